"""The incident list's filters, defined once.

:class:`IncidentFilter` is the filter of the API's incident list. The portal's queue, its
change feed and the saved views use the same filters through :class:`QueueFilter`, which
only changes how the queue's form names things: several priorities (check boxes), a
service, team or assignee by id (select boxes, ``me`` and ``unassigned`` too), and
"reported by me". The API answers a value that does not validate with a 400; the queue
ignores it and applies the rest. Services, teams and members only feed the queue's select
boxes: an identifier from elsewhere simply matches nothing, so the change feed and the
saved views validate without them.
"""

from __future__ import annotations

import re

from django import forms
from django_filters import rest_framework as filters

from core.api.filters import BoundedIsoDateTimeFilter
from core.forms import PortalForm, person_label
from incidents.models import Incident, Priority, Severity
from incidents.selectors import incident_search
from incidents.states import OPEN_STATES, Status


class SeparatedMultipleChoiceField(forms.MultipleChoiceField):
    """Takes ``?status=new&status=on_hold``, ``?status=new,on_hold`` or both."""

    def to_python(self, value):
        parts = (part.strip() for item in super().to_python(value) for part in item.split(","))
        return [part for part in parts if part]


class SeparatedMultipleChoiceFilter(filters.MultipleChoiceFilter):
    field_class = SeparatedMultipleChoiceField


class IncidentFilter(filters.FilterSet):
    status = SeparatedMultipleChoiceFilter(
        choices=Status.choices,
        distinct=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="One or more statuses, repeated or comma-separated.",
    )
    priority = filters.ChoiceFilter(choices=Priority.choices)
    severity = filters.ChoiceFilter(choices=Severity.choices, empty_label="Any severity")
    team = filters.CharFilter(field_name="team__slug", max_length=50, help_text="Team slug.")
    service = filters.CharFilter(
        field_name="service__slug", max_length=50, help_text="Service slug."
    )
    assignee = filters.CharFilter(
        field_name="assignee__username", max_length=150, help_text="Username."
    )
    created_after = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = filters.CharFilter(
        method="search", max_length=200, help_text="Matches title, description or INC-<n>."
    )

    class Meta:
        model = Incident
        fields = [
            "status",
            "priority",
            "severity",
            "team",
            "service",
            "assignee",
            "created_after",
            "created_before",
            "q",
        ]

    def search(self, queryset, name, value):
        return incident_search(queryset, value)


class IdentifierField(forms.CharField):
    """A row's id, as a select box posts it; anything else is "not a valid choice"."""

    widget = forms.Select

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        if not re.fullmatch(r"[0-9]{1,18}", value):
            raise forms.ValidationError("Not a valid choice.")
        return int(value)


class AssigneeField(IdentifierField):
    """A member's id, ``me`` or ``unassigned``."""

    def to_python(self, value):
        if value in ("me", "unassigned"):
            return value
        return super().to_python(value)


class IdentifierFilter(filters.Filter):
    field_class = IdentifierField


class AssigneeFilter(filters.Filter):
    field_class = AssigneeField


class CheckboxFilter(filters.Filter):
    field_class = forms.BooleanField


class QueueForm(PortalForm):
    """The queue's filter form; its field order is the order of a saved view's query."""

    field_order = ["status", "priority", "severity", "service", "team", "assignee", "q", "mine"]


class QueueFilter(IncidentFilter):
    """:class:`IncidentFilter` as the portal's queue form names things."""

    priority = filters.TypedMultipleChoiceFilter(
        choices=Priority.choices, coerce=int, distinct=False, widget=forms.CheckboxSelectMultiple
    )
    service = IdentifierFilter(field_name="service_id")
    team = IdentifierFilter(field_name="team_id")
    assignee = AssigneeFilter(method="filter_assignee")
    q = filters.CharFilter(
        method="search",
        label="Search",
        max_length=100,
        widget=forms.SearchInput(attrs={"placeholder": "Title, details or INC-number"}),
    )
    mine = CheckboxFilter(label="Reported by me", method="filter_mine")
    created_after = created_before = None  # the queue has no date filters

    class Meta:
        model = Incident
        form = QueueForm
        fields = QueueForm.field_order

    def __init__(self, data=None, queryset=None, *, user, services=(), teams=(), members=()):
        super().__init__(data, queryset if queryset is not None else Incident.objects.none())
        self.user = user
        fields = self.form.fields
        fields["service"].widget.choices = [("", "Any service")] + [
            (str(s.pk), s.name) for s in services
        ]
        fields["team"].widget.choices = [("", "Any team")] + [(str(t.pk), t.name) for t in teams]
        fields["assignee"].widget.choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("unassigned", "Unassigned"),
        ] + [(str(u.pk), person_label(u)) for u in members]

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assignee_id=self.user.pk)
        if value == "unassigned":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=value)

    def filter_mine(self, queryset, name, value):
        return queryset.filter(reporter_id=self.user.pk) if value else queryset

    def query_items(self) -> list[tuple[str, str]]:
        """The filters that validated, as query-string pairs (for links and the feed)."""
        self.is_valid()
        items = []
        for name in self.form.fields:
            value = self.form.cleaned_data.get(name)
            if value in (None, "", [], False):
                continue
            if value is True:
                value = "1"
            for item in value if isinstance(value, list) else [value]:
                items.append((name, str(item)))
        return items


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
