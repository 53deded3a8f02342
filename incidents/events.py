"""The events the incident record publishes (see :mod:`events.bus`).

Each payload carries the incident as it is after the change (``incident``), who made the
change (``actor``) and what changed, so a subscriber acts without reading the incident
again. Events of one incident share the stream ``incident:<id>`` and reach each
subscriber in the order they happened.
"""

from __future__ import annotations

from events import bus
from events.models import Event
from tenancy import audit

CREATED = bus.define("incident.created", "An incident was opened (portal, API or alert).")
STATUS_CHANGED = bus.define(
    "incident.status_changed", "The incident moved along its lifecycle (from, to, note)."
)
UPDATED = bus.define("incident.updated", "Fields of the incident changed (changes: from, to).")
ASSIGNED = bus.define(
    "incident.assigned", "The team, assignee, commander or comms lead changed (changes)."
)
PRIORITY_CHANGED = bus.define(
    "incident.priority_changed", "The priority changed, by the matrix or an override."
)
COMMENT_ADDED = bus.define("incident.comment_added", "Someone commented on the incident.")
UPDATE_POSTED = bus.define(
    "incident.update_posted", "A public status update was posted for stakeholders."
)

ASSIGNMENT_FIELDS = ("team", "assignee", "commander", "comms_lead")
_SNAPSHOT_IDS = (
    "category",
    "service",
    "team",
    "assignee",
    "reporter",
    "commander",
    "comms_lead",
)
_SNAPSHOT_VALUES = (
    "number",
    "title",
    "status",
    "priority",
    "severity",
    "impact",
    "urgency",
    "source",
    "dedup_key",
    "tags",
    "occurred_at",
    "detected_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "created_at",
    "updated_at",
)


def snapshot(incident) -> dict:
    """The incident's fields, related rows by id."""
    data = {"id": incident.pk}
    data.update({field: getattr(incident, field) for field in _SNAPSHOT_VALUES})
    data.update({f"{field}_id": getattr(incident, f"{field}_id") for field in _SNAPSHOT_IDS})
    return data


def actor(who) -> dict:
    user_id = getattr(who, "pk", None)
    api_key = getattr(who, "api_key", None)
    return {
        "label": audit.actor_label(who),
        "user_id": user_id if api_key is None else None,
        "api_key_id": getattr(api_key, "pk", None),
    }


def value(item):
    """A changed value as a machine reads it: a related row by id, the rest as is."""
    return getattr(item, "pk", item)


def stream(incident) -> str:
    return f"incident:{incident.pk}"


def event(incident, event_type: str, who, **data) -> Event:
    return bus.event(
        organization_id=incident.organization_id,
        type=event_type,
        stream=stream(incident),
        payload={"incident": snapshot(incident), "actor": actor(who), **data},
    )


def publish(incident, event_type: str, who, **data) -> None:
    """Writes the event in the caller's transaction (the one that made the change)."""
    bus.publish_many([event(incident, event_type, who, **data)])


def publish_created(incidents, who) -> None:
    bus.publish_many([event(incident, CREATED, who) for incident in incidents])


def publish_changes(incident, who, before: dict, *, priority_before: int) -> None:
    """``incident.updated`` with every changed field, then ``incident.assigned`` and
    ``incident.priority_changed`` where those apply, in that order."""
    changes = {
        field: {"from": value(old), "to": value(getattr(incident, field))}
        for field, old in before.items()
    }
    published = [event(incident, UPDATED, who, changes=changes)]
    assigned = {field: change for field, change in changes.items() if field in ASSIGNMENT_FIELDS}
    if assigned:
        published.append(event(incident, ASSIGNED, who, changes=assigned))
    if incident.priority != priority_before:
        published.append(
            event(
                incident,
                PRIORITY_CHANGED,
                who,
                **{"from": priority_before, "to": incident.priority, "reason": "matrix"},
            )
        )
    bus.publish_many(published)
