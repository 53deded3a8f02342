"""Changing an open incident: its lifecycle moves, fields, people, priority override,
comments and status updates. Each write locks the incident, changes it, appends its
timeline entries and publishes its events in one transaction."""

from __future__ import annotations

from django.utils import timezone

from core.errors import Conflict, DomainError
from incidents import events, rules, signals, sla_policy
from incidents.models import Incident, TimelineEntry
from incidents.services.base import (
    check_same_organization,
    check_times,
    lock_incident,
    timeline_entry_add,
)
from incidents.services.catalog import priority_for
from incidents.states import Status, allowed_targets
from tenancy import rls
from tenancy.models import Membership, Role

# Fields a responder may change with incident_update, and how the timeline shows them.
UPDATABLE = (
    "title",
    "description",
    "category",
    "impact",
    "urgency",
    "severity",
    "service",
    "team",
    "assignee",
    "commander",
    "comms_lead",
    "error_codes",
    "tags",
    "occurred_at",
    "root_cause",
    "resolution",
)
PEOPLE = ("assignee", "commander", "comms_lead")
PEOPLE_LABELS = {"assignee": "assignee", "commander": "commander", "comms_lead": "comms lead"}


class InvalidTransition(Conflict):
    def __init__(self, source: str, target: str):
        self.allowed = list(allowed_targets(source))
        allowed = ", ".join(self.allowed) or "none (it is final)"
        super().__init__(
            f"An incident cannot go from {source} to {target}. Allowed: {allowed}.",
            field="status",
            code="invalid_transition",
        )

    def as_dict(self):
        return {**super().as_dict(), "allowed": self.allowed}


def _check_may_work(organization, field: str, user) -> None:
    """Only members whose role lets them work incidents are assignee, commander or comms
    lead; anyone else is refused on the field (a non-member is "not found")."""
    if user is None:
        return
    role = (
        Membership.objects.for_org(organization)
        .filter(user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise DomainError("Not found.", field=field)
    if not rules.role_may_work(role):
        allowed = ", ".join(Role(r).label.lower() for r in rules.working_roles())
        raise DomainError(
            f"{user.get_username()} is a {Role(role).label.lower()} here and cannot be the "
            f"{PEOPLE_LABELS[field]}: choose someone who works on incidents ({allowed}).",
            field=field,
            code="may_not_work_incidents",
        )


@rls.in_tenant
def incident_change(
    *,
    organization,
    actor,
    incident: Incident,
    changes: dict | None = None,
    priority: int | None = None,
    priority_reason: str = "",
    status: str | None = None,
    note: str = "",
    resolution: str | None = None,
    root_cause: str | None = None,
) -> Incident:
    """Everything one change of the incident asks for (an API ``PATCH``), with the
    incident locked once: the fields, then a priority override, then a status move, each
    with its timeline entries and events, all of it or nothing."""
    incident = lock_incident(organization, incident)
    if changes:
        incident = _update(organization, actor, incident, changes)
    if priority is not None:
        incident = _override_priority(actor, incident, priority, priority_reason)
    if status is not None:
        incident = transition_locked(
            actor, incident, status, note=note, resolution=resolution, root_cause=root_cause
        )
    return incident


@rls.in_tenant
def incident_transition(
    *,
    organization,
    actor,
    incident: Incident,
    status: str,
    note: str = "",
    resolution: str | None = None,
    root_cause: str | None = None,
) -> Incident:
    """Moves the incident along the lifecycle; forbidden moves raise InvalidTransition."""
    return transition_locked(
        actor,
        lock_incident(organization, incident),
        status,
        note=note,
        resolution=resolution,
        root_cause=root_cause,
    )


def transition_locked(
    actor,
    incident: Incident,
    status: str,
    *,
    note: str = "",
    resolution: str | None = None,
    root_cause: str | None = None,
) -> Incident:
    """Moves an incident the caller has locked (closure, auto-close and the services here
    share it); forbidden moves raise InvalidTransition."""
    source = incident.status
    if status not in allowed_targets(source):
        raise InvalidTransition(source, status)
    now = timezone.now()
    fields = ["status", "updated_at", *sla_policy.transition(incident, status, now)]
    if resolution is not None:
        incident.resolution = resolution
        fields.append("resolution")
    if root_cause is not None:
        incident.root_cause = root_cause
        fields.append("root_cause")
    if status == Status.RESOLVED:
        if not incident.resolution.strip() and incident.source != Incident.Source.ALERT:
            raise DomainError("Say how it was resolved.", field="resolution")
        incident.resolved_at = now
        fields.append("resolved_at")
    if status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS) and incident.acknowledged_at is None:
        incident.acknowledged_at = now
        fields.append("acknowledged_at")
    if status == Status.CLOSED:
        incident.closed_at = now
        fields.append("closed_at")
    if source == Status.RESOLVED and status == Status.IN_PROGRESS:
        incident.resolved_at = None  # reopened
        fields.append("resolved_at")
    incident.status = status
    incident.updated_at = now
    incident.save(update_fields=fields)
    signals.status_changed.send(sender=Incident, incident=incident, previous=source)
    timeline_entry_add(
        incident,
        actor,
        TimelineEntry.Kind.STATUS_CHANGED,
        body=note,
        data={"from": source, "to": status},
        is_public=True,
    )
    events.publish(
        incident, events.STATUS_CHANGED, actor, **{"from": source, "to": status, "note": note}
    )
    return incident


def _shown(value):
    if value is None:
        return None
    if hasattr(value, "get_username"):
        return value.get_username()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "_meta"):
        return str(value)
    return value


@rls.in_tenant
def incident_update(*, organization, actor, incident: Incident, **changes) -> Incident:
    """Changes fields; the matrix re-derives the priority unless it was overridden."""
    return _update(organization, actor, lock_incident(organization, incident), changes)


def _update(organization, actor, incident: Incident, changes: dict) -> Incident:
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    check_same_organization(
        organization, **{k: v for k, v in changes.items() if k in ("category", "service", "team")}
    )
    check_times(occurred_at=changes.get("occurred_at"))
    for field in PEOPLE:
        if field in changes and getattr(incident, f"{field}_id") != getattr(
            changes[field], "pk", None
        ):
            _check_may_work(organization, field, changes[field])
    before = {field: getattr(incident, field) for field in changes}
    before_priority = incident.priority
    changed = [field for field, value in changes.items() if before[field] != value]
    if not changed:
        return incident
    for field in changed:
        setattr(incident, field, changes[field])
    fields = [*changed, "updated_at"]
    if {"impact", "urgency"} & set(changed) and not incident.priority_override_reason:
        incident.priority = priority_for(
            organization=organization, impact=incident.impact, urgency=incident.urgency
        )
        fields.append("priority")
    incident.updated_at = timezone.now()
    if incident.priority != before_priority:
        fields += sla_policy.retarget(incident, incident.updated_at)
    incident.save(update_fields=fields)
    for field in changed:
        kind = TimelineEntry.Kind.ASSIGNED if field in PEOPLE else TimelineEntry.Kind.FIELD_CHANGED
        timeline_entry_add(
            incident,
            actor,
            kind,
            data={
                "field": field,
                "from": _shown(before[field]),
                "to": _shown(changes[field]),
            },
        )
    changed_from = {field: before[field] for field in changed}
    events.publish_changes(incident, actor, changed_from, priority_before=before_priority)
    return incident


@rls.in_tenant
def incident_override_priority(
    *, organization, actor, incident: Incident, priority: int, reason: str
) -> Incident:
    return _override_priority(actor, lock_incident(organization, incident), priority, reason)


def _override_priority(actor, incident: Incident, priority: int, reason: str) -> Incident:
    if not reason.strip():
        raise DomainError("Give a reason for overriding the priority.", field="reason")
    before = incident.priority
    incident.priority = priority
    incident.priority_override_reason = reason.strip()
    incident.updated_at = timezone.now()
    fields = ["priority", "priority_override_reason", "updated_at"]
    if priority != before:
        fields += sla_policy.retarget(incident, incident.updated_at)
    incident.save(update_fields=fields)
    timeline_entry_add(
        incident,
        actor,
        TimelineEntry.Kind.PRIORITY_OVERRIDDEN,
        body=reason.strip(),
        data={"from": before, "to": priority},
    )
    if priority != before:
        events.publish(
            incident,
            events.PRIORITY_CHANGED,
            actor,
            **{"from": before, "to": priority, "reason": incident.priority_override_reason},
        )
    return incident


@rls.in_tenant
def incident_comment(
    *, organization, actor, incident: Incident, body: str, is_public: bool = False
) -> TimelineEntry:
    if not body.strip():
        raise DomainError("Write something.", field="body")
    incident = lock_incident(organization, incident)  # its events keep the incident's order
    entry = timeline_entry_add(
        incident, actor, TimelineEntry.Kind.COMMENT, body=body, is_public=is_public
    )
    events.publish(
        incident,
        events.COMMENT_ADDED,
        actor,
        comment={"id": entry.pk, "body": body, "is_public": is_public},
    )
    return entry


@rls.in_tenant
def incident_post_update(*, organization, actor, incident: Incident, body: str) -> TimelineEntry:
    """A public status update for stakeholders."""
    if not body.strip():
        raise DomainError("Write the update.", field="body")
    incident = lock_incident(organization, incident)
    entry = timeline_entry_add(
        incident, actor, TimelineEntry.Kind.STATUS_UPDATE, body=body, is_public=True
    )
    events.publish(incident, events.UPDATE_POSTED, actor, update={"id": entry.pk, "body": body})
    return entry
