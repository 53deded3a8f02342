"""The incident list's filters.

The portal's queue reads them from the query string, its change feed counts what changed
among what they match, and a saved view stores them normalized. Values that do not
validate are ignored. Services, teams and members only feed the select boxes: an
identifier from elsewhere simply matches nothing, so the change feed can validate
without them.
"""

from __future__ import annotations

import re

from django import forms

from incidents.forms import PortalForm, person_label
from incidents.models import Priority, Severity
from incidents.selectors import incident_search
from incidents.states import OPEN_STATES, Status


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
