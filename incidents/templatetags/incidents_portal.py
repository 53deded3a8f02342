"""Template helpers for the incident pages: labels, timeline summaries, the home card."""

from __future__ import annotations

from django import template
from django.core.exceptions import FieldDoesNotExist

from incidents.models import Incident, Level, Priority, Severity, TimelineEntry
from incidents.selectors import incidents_visible
from incidents.states import Status
from tenancy.models import Role

register = template.Library()

Kind = TimelineEntry.Kind


def _label(choices, value, default: str = "none") -> str:
    if value in (None, ""):
        return default
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


@register.filter
def status_label(value) -> str:
    return _label(Status, value)


@register.filter
def has_org_perm(request, perm: str) -> bool:
    """``request|has_org_perm:"incidents.add_incident"``: in the request's organization."""
    organization = getattr(request, "organization", None)
    return organization is not None and request.user.has_perm(perm, organization)


def _field_label(field: str) -> str:
    try:
        return str(Incident._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:
        return field.replace("_", " ")


def _field_value(field: str, value) -> str:
    if field in ("impact", "urgency"):
        return _label(Level, value)
    if field == "severity":
        return _label(Severity, value, "not set")
    if field == "priority":
        return _label(Priority, value)
    if value in (None, "", []):
        return "nobody" if field in ("assignee", "commander", "comms_lead") else "none"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


@register.filter
def entry_summary(entry: TimelineEntry) -> str:
    """What the entry records, in words after the actor's name (escaped by the template)."""
    data = entry.data or {}
    field = data.get("field", "")
    if entry.kind == Kind.CREATED:
        return "reported the incident"
    if entry.kind == Kind.STATUS_CHANGED:
        return (
            f"changed the status from {status_label(data.get('from'))} "
            f"to {status_label(data.get('to'))}"
        )
    if entry.kind == Kind.ASSIGNED:
        return f"set the {_field_label(field)} to {_field_value(field, data.get('to'))}"
    if entry.kind == Kind.FIELD_CHANGED:
        if field == "attachment":  # Attachments
            if data.get("to"):
                return f"attached {data['to']}"
            return f"removed the attachment {data.get('from') or ''}".rstrip()
        if field == "review":  # Post-incident review
            return "published the post-incident review"
        if field in ("description", "resolution", "root_cause"):
            return f"edited the {_field_label(field)}"
        return (
            f"changed the {_field_label(field)} from {_field_value(field, data.get('from'))} "
            f"to {_field_value(field, data.get('to'))}"
        )
    if entry.kind == Kind.PRIORITY_OVERRIDDEN:
        return (
            f"overrode the priority from {_label(Priority, data.get('from'))} "
            f"to {_label(Priority, data.get('to'))}"
        )
    if entry.kind == Kind.COMMENT:
        return "commented"
    if entry.kind == Kind.STATUS_UPDATE:
        return "posted a status update"
    return entry.get_kind_display().lower()


@register.inclusion_tag("incidents/_home_card.html", takes_context=True)
def incident_card(context):
    """Open incidents (for roles that see them all) and the user's own open reports."""
    request = context["request"]
    organization, user, role = request.organization, request.user, request.role
    open_incidents = incidents_visible(organization=organization, user=user, role=role).open()
    return {
        "current_organization": organization,
        "sees_all": role != Role.REPORTER,
        "open_count": open_incidents.count() if role != Role.REPORTER else None,
        "mine_open_count": open_incidents.filter(reporter_id=user.pk).count(),
        "can_report": user.has_perm("incidents.add_incident", organization),
    }
