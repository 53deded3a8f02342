"""Query-string filters of the incident list (django-filter)."""

from __future__ import annotations

from django import forms
from django_filters import rest_framework as filters

from core.api.filters import BoundedIsoDateTimeFilter
from incidents import selectors
from incidents.models import Incident, Priority, Severity
from incidents.states import Status


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
        help_text="One or more statuses, repeated or comma-separated.",
    )
    priority = filters.ChoiceFilter(choices=Priority.choices)
    severity = filters.ChoiceFilter(choices=Severity.choices)
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
        return selectors.incident_search(queryset, value)
