"""How timeline entries read: what happened, in the words a person would use.

Entries store what changed as data (``{"field", "from", "to"}``, an attachment's
``{"name"}``, usernames, ISO times, raw choice values); each kind of event has its own kind
of entry, never a field change with a made-up field name. The words are chosen when they
are shown, so the stored record never changes. The portal, the API's ``summary`` and a
review's pre-filled timeline all read entries through :func:`describe`.

People are named by their full name (their username when they have none, or when they are
no longer members); priorities read P1…P5, severities SEV1…SEV4, statuses by their label,
SLA flags as the event they record, and empty values as "none".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone

from incidents.models import Incident, Level, Severity, TimelineEntry
from incidents.states import Status

Kind = TimelineEntry.Kind
PEOPLE = ("assignee", "commander", "comms_lead")
TEXTS = ("description", "resolution", "root_cause")
LEVELS = {Level.HIGH: "High", Level.MEDIUM: "Medium", Level.LOW: "Low"}
FIELD_LABELS = {"occurred_at": "start time", "error_codes": "error codes"}
BREACHES = {
    "response_breached": "missed the response target",
    "resolve_breached": "missed the resolution target",
}
REVIEW_PUBLISHED = "published the post-incident review"
SOURCES = {
    Incident.Source.API: "opened the incident through the API",
    Incident.Source.ALERT: "opened the incident from an alert",
    Incident.Source.EMAIL: "reported the incident by e-mail",
    Incident.Source.PHONE: "reported the incident by phone",
}


def people_names(organization, entries: Iterable[TimelineEntry]) -> dict[str, str]:
    """Username -> full name for the members the entries name, in one query."""
    usernames = {
        value
        for entry in entries
        if entry.kind == Kind.ASSIGNED
        for value in ((entry.data or {}).get("from"), (entry.data or {}).get("to"))
        if isinstance(value, str) and value
    }
    if not usernames:
        return {}
    users = get_user_model().objects.filter(
        username__in=usernames, memberships__organization=organization
    )
    return {user.get_username(): user.get_full_name() or user.get_username() for user in users}


def actor_name(entry: TimelineEntry) -> str:
    """Who did it: the person's full name, else the label the entry was written with."""
    if entry.actor_id is not None and entry.actor is not None and entry.actor.get_full_name():
        return entry.actor.get_full_name()
    return entry.actor_label or "System"


def _empty(value) -> bool:
    return value is None or value == "" or value == []


def field_label(field: str) -> str:
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    try:
        return str(Incident._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:
        return field.replace("_", " ")


def _moment(value, zone: tzinfo | None) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    if timezone.is_naive(moment):
        return f"{moment:%Y-%m-%d %H:%M}"
    moment = timezone.localtime(moment, zone)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def value_text(field: str, value, *, names: Mapping[str, str] | None = None, zone=None) -> str:
    """One stored value as a person would write it; "none" when empty."""
    if _empty(value):
        return "none"
    if field in ("impact", "urgency"):
        return LEVELS.get(value, str(value))
    if field == "severity":
        return value.upper() if value in Severity.values else str(value)
    if field == "priority":
        return f"P{value}"
    if field == "status":
        return str(Status(value).label) if value in Status.values else str(value)
    if field in PEOPLE:
        return (names or {}).get(value, str(value))
    if field.endswith("_at"):
        return _moment(value, zone)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _person_change(entry: TimelineEntry, field: str, data: dict, names) -> str:
    before = value_text(field, data.get("from"), names=names)
    after = value_text(field, data.get("to"), names=names)
    gone = _empty(data.get("to"))
    if field == "assignee":
        if gone:
            return f"unassigned {before}" if not _empty(data.get("from")) else "unassigned it"
        if entry.actor_id is not None and data.get("to") == entry.actor_label:
            return "took the incident"
        return f"assigned {after}"
    role = "the incident commander" if field == "commander" else "the comms lead"
    if gone:
        return f"removed {before} as {role.removeprefix('the ')}"
    return f"made {after} {role}"


def _field_change(field: str, data: dict, names, zone) -> str:
    before, after = data.get("from"), data.get("to")
    if field in BREACHES and after is True:
        return BREACHES[field]
    label = field_label(field)
    if field in TEXTS:
        return f"edited the {label}"
    shown_after = value_text(field, after, names=names, zone=zone)
    if field == "title":
        return f"renamed the incident “{after}”"
    if _empty(before):
        return f"set the {label} to {shown_after}"
    shown_before = value_text(field, before, names=names, zone=zone)
    return f"changed the {label} from {shown_before} to {shown_after}"


def describe(
    entry: TimelineEntry, *, names: Mapping[str, str] | None = None, zone: tzinfo | None = None
) -> str:
    """What the entry records, in words that follow the actor's name."""
    data = entry.data or {}
    field = data.get("field", "")
    if entry.kind == Kind.CREATED:
        return SOURCES.get(data.get("source"), "reported the incident")
    if entry.kind == Kind.STATUS_CHANGED:
        before = value_text("status", data.get("from"))
        after = value_text("status", data.get("to"))
        return f"changed the status from {before} to {after}"
    if entry.kind == Kind.ASSIGNED and field in PEOPLE:
        return _person_change(entry, field, data, names)
    if entry.kind in (Kind.ASSIGNED, Kind.FIELD_CHANGED):
        return _field_change(field, data, names, zone)
    if entry.kind == Kind.PRIORITY_OVERRIDDEN:
        before = value_text("priority", data.get("from"))
        after = value_text("priority", data.get("to"))
        return f"overrode the priority from {before} to {after}"
    if entry.kind == Kind.COMMENT:
        return "commented"
    if entry.kind == Kind.STATUS_UPDATE:
        return "posted a status update"
    if entry.kind == Kind.NOTIFICATION:
        return "sent a notification"
    if entry.kind == Kind.AUTOMATION:
        return "ran an automation"
    if entry.kind == Kind.ATTACHMENT_ADDED:
        return f"attached {data.get('name') or 'a file'}"
    if entry.kind == Kind.ATTACHMENT_REMOVED:
        return f"removed the attachment {data.get('name') or ''}".rstrip()
    if entry.kind == Kind.REVIEW_PUBLISHED:
        return REVIEW_PUBLISHED
    return entry.get_kind_display().lower()


def outline(entry: TimelineEntry) -> str:
    """What kind of thing an internal entry records, without what it contains (for readers
    who may not see internal entries, such as a review's stakeholders)."""
    data = entry.data or {}
    field = data.get("field", "")
    if entry.kind == Kind.FIELD_CHANGED and field in BREACHES and data.get("to") is True:
        return BREACHES[field]
    if entry.kind == Kind.FIELD_CHANGED and field:
        return f"changed the {field_label(field)}"
    if entry.kind == Kind.COMMENT:
        return "commented"
    if entry.kind == Kind.REVIEW_PUBLISHED:
        return REVIEW_PUBLISHED
    return entry.get_kind_display().lower()


def describe_all(organization, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Sets ``entry.summary`` on each entry (names read once for all), in the
    organization's time zone; returns the entries."""
    names = people_names(organization, entries)
    zone = organization.timezone
    for entry in entries:
        entry.summary = describe(entry, names=names, zone=zone)
    return entries
