"""The event alerts publish: ``alert.received``, on the stream of the incident the alert
landed on (see :mod:`incidents.events`), once the alert's effect is applied."""

from __future__ import annotations

from events import bus
from incidents import events as incident_events

RECEIVED = bus.define(
    "alert.received",
    "An alert reached an incident: it opened it, was grouped on it, acknowledged or "
    "resolved it, or was recorded (outcome).",
)

_ALERT_FIELDS = (
    "integration_id",
    "action",
    "outcome",
    "dedup_key",
    "summary",
    "severity",
    "source",
    "tags",
    "occurred_at",
    "received_at",
)


def alert_payload(alert) -> dict:
    return {"id": alert.pk, **{field: getattr(alert, field) for field in _ALERT_FIELDS}}


def publish_received(alerts, actor_of) -> None:
    """One event per alert that reached an incident, in the order given; ``actor_of(alert)``
    names who acted (the integration)."""
    bus.publish_many(
        [
            incident_events.event(
                alert.incident, RECEIVED, actor_of(alert), alert=alert_payload(alert)
            )
            for alert in alerts
            if alert.incident is not None
        ]
    )
