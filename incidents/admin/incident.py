"""Incidents in the admin: transitions as actions, the timeline read-only, every change
through the same services as the portal and the API."""

import inspect

from django.contrib import admin, messages
from django.db.models import Q

from core.errors import DomainError
from incidents import rules, services, timeline
from incidents.models import Incident, TimelineEntry
from incidents.states import Status
from tenancy.admin_base import TenantAdmin, TenantAdminForm, TenantInline

# Computed by the services from the organization's SLA targets; never edited by hand.
SLA_FIELDS = [
    "response_due_at",
    "resolve_due_at",
    "response_breached",
    "resolve_breached",
    "sla_paused_at",
    "sla_paused_seconds",
    "sla_business_hours",
]
# Given by the reporter when confirming the resolution; read here, never edited.
SATISFACTION_FIELDS = ["satisfaction_score", "satisfaction_comment"]
CREATE_FIELDS = set(inspect.signature(services.incident_create).parameters) - {
    "organization",
    "actor",
}


class TimelineInline(TenantInline):
    model = TimelineEntry
    fields = ["created_at", "kind", "actor_label", "what", "is_public", "body", "data"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    can_delete = False

    @admin.display(description="What happened")
    def what(self, obj):
        return timeline.describe(obj)  # times in the page's zone: the organization's

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _transition_action(status: str, label: str):
    def action(modeladmin, request, queryset):
        done = 0
        for incident in queryset.select_related("organization"):
            try:
                services.incident_transition(
                    organization=incident.organization,
                    actor=request.user,
                    incident=incident,
                    status=status,
                    note="From the admin.",
                )
                done += 1
            except DomainError as exc:
                modeladmin.message_user(
                    request, f"{incident.reference}: {exc.message}", messages.WARNING
                )
        if done:
            modeladmin.message_user(request, f"{label}: {done} incident(s).")

    action.__name__ = f"transition_to_{status}"
    return admin.action(description=f"{label} the selected incidents", permissions=["change"])(
        action
    )


class IncidentAdminForm(TenantAdminForm):
    """Assignee, commander and comms lead are offered among the members who may work
    incidents (and whoever holds the role now); the services refuse anyone else."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.organization_id is None:
            return  # an add page: the organization chosen decides, on save
        workers = Q(
            memberships__organization_id=self.organization_id,
            memberships__role__in=rules.working_roles(),
        )
        for name in services.PEOPLE:
            field = self.fields.get(name)
            if field is not None:
                holder = getattr(self.instance, f"{name}_id")
                field.queryset = field.queryset.filter(workers | Q(pk=holder)).distinct()


@admin.register(Incident)
class IncidentAdmin(TenantAdmin):
    form = IncidentAdminForm
    list_display = [
        "reference",
        "title",
        "organization",
        "status",
        "priority",
        "severity",
        "service",
        "assignee",
        "created_at",
    ]
    list_filter = ["status", "priority", "severity", "source"]
    search_fields = ["title", "description", "number"]
    list_select_related = ["organization", "service", "assignee"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [
        "number",
        "status",
        "priority",
        "acknowledged_at",
        "resolved_at",
        "closed_at",
        "created_at",
        "updated_at",
        *SLA_FIELDS,
        *SATISFACTION_FIELDS,
    ]
    inlines = [TimelineInline]
    actions = [
        _transition_action(Status.ACKNOWLEDGED, "Acknowledge"),
        _transition_action(Status.IN_PROGRESS, "Start work on (or reopen)"),
        _transition_action(Status.ON_HOLD, "Put on hold"),
        _transition_action(Status.RESOLVED, "Resolve"),
        _transition_action(Status.CLOSED, "Close"),
        _transition_action(Status.CANCELLED, "Cancel"),
    ]
    fieldsets = [
        (None, {"fields": ["organization", "number", "title", "description", "status"]}),
        (
            "Classification",
            {"fields": ["category", "impact", "urgency", "priority", "severity", "service"]},
        ),
        ("People", {"fields": ["team", "assignee", "reporter", "commander", "comms_lead"]}),
        (
            "Times",
            {
                "fields": [
                    "occurred_at",
                    "detected_at",
                    "acknowledged_at",
                    "resolved_at",
                    "closed_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        ("Resolution", {"fields": ["root_cause", "resolution"]}),
        ("SLA", {"fields": SLA_FIELDS}),
        ("Reporter's feedback", {"fields": SATISFACTION_FIELDS}),
        ("Origin", {"fields": ["source", "dedup_key", "error_codes", "tags"]}),
    ]

    @admin.display(description="Number", ordering="number")
    def reference(self, obj):
        return obj.reference

    def get_readonly_fields(self, request, obj=None):
        """Once created, only what ``incident_update`` changes is editable; the rest (the
        reporter, the origin, detection) is the record, shown but never silently dropped."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        shown = [name for _, options in self.fieldsets for name in options["fields"]]
        return fields + [
            name for name in shown if name not in services.UPDATABLE and name not in fields
        ]

    def save_model(self, request, obj, form, change):
        """Through the same services as the portal and the API, so the timeline is kept."""
        data = {field: form.cleaned_data[field] for field in form.changed_data}
        if change:
            updatable = {k: v for k, v in data.items() if k in services.UPDATABLE}
            saved = services.incident_update(
                organization=obj.organization, actor=request.user, incident=obj, **updatable
            )
        else:
            created = {k: v for k, v in data.items() if k in CREATE_FIELDS}
            saved = services.incident_create(
                organization=obj.organization, actor=request.user, **created
            )
            later = {k: v for k, v in data.items() if k in services.UPDATABLE and k not in created}
            if later:
                saved = services.incident_update(
                    organization=obj.organization, actor=request.user, incident=saved, **later
                )
        obj.pk, obj.number = saved.pk, saved.number

    def save_related(self, request, form, formsets, change):
        """Timeline entries are written by the services; the inline is read-only."""
        for formset in formsets:
            formset.save(commit=False)  # nothing to write; lets the admin log the change
