"""Portal forms for incidents.

Choices among the organization's services, teams and members are read once per request
by the view and handed in, so rendering a form costs no query per select box.
"""

from __future__ import annotations

import re

from django import forms

from core.text import LineFormField
from incidents.attachment_views import files_field
from incidents.models import Level, Priority, Severity
from incidents.selectors import incident_search
from incidents.states import OPEN_STATES, Status

AFFECTED_CHOICES = [
    (Level.LOW, "Just me"),
    (Level.MEDIUM, "My team or several people"),
    (Level.HIGH, "Many people / everyone"),
]
URGENCY_CHOICES = [
    (Level.LOW, "It can wait"),
    (Level.MEDIUM, "It slows work down"),
    (Level.HIGH, "Work has stopped"),
]


def person_label(user) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


class PortalForm(forms.Form):
    """Labels without a trailing colon, like the rest of the portal."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def _by_pk(objects) -> dict[str, object]:
    return {str(obj.pk): obj for obj in objects}


class ReportForm(PortalForm):
    """What a person who is not an incident manager can tell us, in their words."""

    title = LineFormField(
        label="What is wrong?",
        max_length=200,
        help_text="One line, for example “Cannot print in the Berlin office”.",
    )
    description = forms.CharField(
        label="Details",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What you did, what happened, what you expected, error messages.",
    )
    service = forms.ChoiceField(label="Which service?", required=False)
    impact = forms.TypedChoiceField(
        label="How many people are affected?",
        choices=AFFECTED_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
    )
    urgency = forms.TypedChoiceField(
        label="How urgent is it?", choices=URGENCY_CHOICES, coerce=int, widget=forms.RadioSelect
    )
    files = files_field(label="Attach files", required=False)  # Attachments

    def __init__(self, *args, services, **kwargs):
        super().__init__(*args, **kwargs)
        self._services = _by_pk(services)
        self.fields["service"].choices = [("", "I don’t know / none of these")] + [
            (pk, service.name) for pk, service in self._services.items()
        ]

    def clean_service(self):
        return self._services.get(self.cleaned_data["service"])


class QueueFilterForm(PortalForm):
    """The queue's filters, read from the query string; values that do not validate are
    ignored. Services, teams and members only feed the select boxes: an identifier from
    elsewhere simply matches nothing, so the change feed can validate without them."""

    status = forms.MultipleChoiceField(
        choices=Status.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    priority = forms.TypedMultipleChoiceField(
        choices=Priority.choices, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Severity.choices], required=False)
    service = forms.CharField(required=False, widget=forms.Select)
    team = forms.CharField(required=False, widget=forms.Select)
    assignee = forms.CharField(required=False, widget=forms.Select)
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.SearchInput(attrs={"placeholder": "Title, details or INC-number"}),
    )
    mine = forms.BooleanField(label="Reported by me", required=False)

    def __init__(self, *args, user, services=(), teams=(), members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["service"].widget.choices = [("", "Any service")] + [
            (str(s.pk), s.name) for s in services
        ]
        self.fields["team"].widget.choices = [("", "Any team")] + [
            (str(t.pk), t.name) for t in teams
        ]
        self.fields["assignee"].widget.choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("unassigned", "Unassigned"),
        ] + [(str(u.pk), person_label(u)) for u in members]

    def clean_service(self):
        return _identifier(self.cleaned_data["service"])

    def clean_team(self):
        return _identifier(self.cleaned_data["team"])

    def clean_assignee(self):
        value = self.cleaned_data["assignee"]
        return value if value in ("me", "unassigned") else _identifier(value)

    def apply(self, incidents):
        """Narrows ``incidents`` by every filter that validated."""
        self.is_valid()
        data = self.cleaned_data
        if data.get("status"):
            incidents = incidents.filter(status__in=data["status"])
        if data.get("priority"):
            incidents = incidents.filter(priority__in=data["priority"])
        if data.get("severity"):
            incidents = incidents.filter(severity=data["severity"])
        if data.get("service"):
            incidents = incidents.filter(service_id=data["service"])
        if data.get("team"):
            incidents = incidents.filter(team_id=data["team"])
        assignee = data.get("assignee")
        if assignee == "me":
            incidents = incidents.filter(assignee_id=self.user.pk)
        elif assignee == "unassigned":
            incidents = incidents.filter(assignee__isnull=True)
        elif assignee:
            incidents = incidents.filter(assignee_id=assignee)
        if data.get("mine"):
            incidents = incidents.filter(reporter_id=self.user.pk)
        if data.get("q"):
            incidents = incident_search(incidents, data["q"])
        return incidents

    def query_items(self) -> list[tuple[str, str]]:
        """The filters that validated, as query-string pairs (for links and the feed)."""
        self.is_valid()
        items = []
        for name in self.fields:
            value = self.cleaned_data.get(name)
            if value in (None, "", [], False):
                continue
            if value is True:
                value = "1"
            for item in value if isinstance(value, list) else [value]:
                items.append((name, str(item)))
        return items


def _identifier(value: str) -> int | None:
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", value):
        raise forms.ValidationError("Not a valid choice.")
    return int(value)


OPEN = [str(s) for s in OPEN_STATES]

# Built-in saved views: a name and the query string it stands for.
SAVED_VIEWS = [
    ("Open", [("status", s) for s in OPEN]),
    ("Assigned to me", [("status", s) for s in OPEN] + [("assignee", "me")]),
    ("Unassigned", [("status", s) for s in OPEN] + [("assignee", "unassigned")]),
    ("P1–P2", [("status", s) for s in OPEN] + [("priority", "1"), ("priority", "2")]),
    ("Resolved awaiting closure", [("status", Status.RESOLVED.value)]),
    ("All", []),
]


class TransitionForm(PortalForm):
    status = forms.ChoiceField(choices=Status.choices)
    note = forms.CharField(label="Note", required=False, max_length=2_000)
    resolution = forms.CharField(
        label="Resolution",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CommentForm(PortalForm):
    body = forms.CharField(
        label="Comment", max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )
    is_public = forms.BooleanField(
        label="Public: the reporter and stakeholders see it", required=False
    )


class StatusUpdateForm(PortalForm):
    body = forms.CharField(
        label="Status update",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Public: for the reporter and stakeholders.",
    )


class AssignmentForm(PortalForm):
    """People, team and classification of an incident.

    Each field carries the value the page was rendered with (``show_hidden_initial``), so
    only what this person changed is written: a field someone else changed meanwhile is
    left alone.
    """

    assignee = forms.ChoiceField(required=False, show_hidden_initial=True)
    commander = forms.ChoiceField(
        label="Incident commander", required=False, show_hidden_initial=True
    )
    comms_lead = forms.ChoiceField(label="Comms lead", required=False, show_hidden_initial=True)
    team = forms.ChoiceField(required=False, show_hidden_initial=True)
    severity = forms.ChoiceField(
        choices=[("", "Not set"), *Severity.choices], required=False, show_hidden_initial=True
    )
    impact = forms.TypedChoiceField(choices=Level.choices, coerce=int, show_hidden_initial=True)
    urgency = forms.TypedChoiceField(choices=Level.choices, coerce=int, show_hidden_initial=True)

    PEOPLE = ("assignee", "commander", "comms_lead")

    def __init__(self, *args, incident, members, teams, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "assignee": _pk(incident.assignee_id),
                "commander": _pk(incident.commander_id),
                "comms_lead": _pk(incident.comms_lead_id),
                "team": _pk(incident.team_id),
                "severity": incident.severity,
                "impact": incident.impact,
                "urgency": incident.urgency,
            },
        )
        super().__init__(*args, **kwargs)
        # ``members`` are those who may work incidents; whoever holds a role now stays
        # choosable for that role only (a person whose membership role changed since).
        workers = _by_pk(members)
        self._members = dict(workers)
        for name in self.PEOPLE:
            holder = getattr(incident, name)
            choosable = dict(workers)
            if holder is not None:
                choosable.setdefault(str(holder.pk), holder)
                self._members.setdefault(str(holder.pk), holder)
            self.fields[name].choices = [("", "Nobody")] + [
                (pk, person_label(user)) for pk, user in choosable.items()
            ]
        self._teams = _by_pk(teams)
        self.fields["team"].choices = [("", "No team")] + [
            (pk, team.name) for pk, team in self._teams.items()
        ]

    def changes(self) -> dict:
        """The fields this person changed, as values for ``incident_update``."""
        changes = {}
        for name in self.changed_data:
            value = self.cleaned_data[name]
            if name in self.PEOPLE:
                value = self._members.get(value)
            elif name == "team":
                value = self._teams.get(value)
            changes[name] = value
        return changes


def _pk(value) -> str:
    return "" if value is None else str(value)


# --- Closure: the reporter confirms or reopens ---------------------------------------------

SCORE_CHOICES = [(n, str(n)) for n in range(1, 6)]


class ConfirmClosureForm(PortalForm):
    score = forms.TypedChoiceField(
        label="How satisfied are you? (1 = not at all, 5 = very; optional)",
        choices=SCORE_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label="Comment (optional)",
        required=False,
        max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReopenForm(PortalForm):
    reason = forms.CharField(
        label="What is still broken?",
        max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
