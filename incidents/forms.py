"""Portal forms for incidents.

Choices among the organization's services, teams and members are read once per request
by the view and handed in, so rendering a form costs no query per select box.
"""

from __future__ import annotations

from django import forms

from core.errors import DomainError
from core.forms import PortalForm, person_label
from core.text import LineFormField
from incidents.attachments import check_upload
from incidents.models import Level, Severity
from incidents.states import Status

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


def _by_pk(objects) -> dict[str, object]:
    return {str(obj.pk): obj for obj in objects}


MAX_FILES = 10


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked like an API upload."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        files = [super(MultipleFileField, self).clean(f, initial) for f in files if f]
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"At most {MAX_FILES} files at a time.")
        errors = []
        for upload in files:
            try:
                check_upload(upload)
            except DomainError as exc:
                errors.append(forms.ValidationError(f"{upload.name}: {exc.message}"))
        if errors:
            raise forms.ValidationError(errors)
        return files


def files_field(**kwargs) -> MultipleFileField:
    return MultipleFileField(
        help_text="Optional: screenshots, logs, PDF, CSV, JSON or ZIP, up to 10 MB each.",
        **kwargs,
    )


class AttachmentForm(PortalForm):
    files = files_field(label="Files")


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
    files = files_field(label="Attach files", required=False)

    def __init__(self, *args, services, **kwargs):
        super().__init__(*args, **kwargs)
        self._services = _by_pk(services)
        self.fields["service"].choices = [("", "I don’t know / none of these")] + [
            (pk, service.name) for pk, service in self._services.items()
        ]

    def clean_service(self):
        return self._services.get(self.cleaned_data["service"])


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
