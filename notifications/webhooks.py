"""Outgoing event webhooks: which events an endpoint may receive, the message each gets,
and how it is signed.

The body is ``{"type", "timestamp", "data": {"incident": <the API's incident object>}}``,
with what the event says beside it (``from``, ``to`` and ``note`` or ``reason`` of a
status or priority change, ``changes`` of fields, the public ``update``; ``alert.received``
adds ``data.alert``), built when the event is
handled, so a retry sends the same bytes. Messages are signed per Standard Webhooks 1.0:
``webhook-id`` (the delivery's message id, the same on every attempt, for the receiver
to deduplicate), ``webhook-timestamp`` and ``webhook-signature``, ``v1,<base64
HMAC-SHA256 of id.timestamp.body>``; while a rotated secret is still honoured, both
signatures are sent.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime

from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from standardwebhooks.webhooks import Webhook as Signer

from alerts import events as alert_events
from incidents import events as incident_events
from incidents.states import Status

# What an event says beside the incident: a status or priority change (from, to, its note
# or reason), changed fields (related rows by id), a public update (id, body).
CHANGE_KEYS = ("from", "to", "note", "reason", "changes", "update")
RESOLVED = "incident.resolved"  # an incident.status_changed to resolved, by its own name
# The event types an endpoint may subscribe to, with what each means.
EVENTS = {
    incident_events.CREATED: "An incident was opened.",
    incident_events.UPDATED: "Fields of an incident changed.",
    incident_events.STATUS_CHANGED: "An incident moved along its lifecycle.",
    RESOLVED: "An incident was resolved.",
    incident_events.ASSIGNED: "The team, assignee, commander or comms lead changed.",
    incident_events.PRIORITY_CHANGED: "An incident's priority changed.",
    incident_events.UPDATE_POSTED: "A public status update was posted.",
    alert_events.RECEIVED: "An alert reached an incident.",
}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def types_of(event) -> list[str]:
    """The webhook event types an event is sent as."""
    types = [event.type]
    if event.type == incident_events.STATUS_CHANGED and event.payload.get("to") == Status.RESOLVED:
        types.append(RESOLVED)
    return types


def body(event_type: str, occurred_at: datetime, incident_data: dict, event) -> dict:
    data = {"incident": incident_data}
    # What the event changed: the incident object is as it was when the message was made,
    # which may be after later changes when delivery was delayed.
    data.update({key: event.payload[key] for key in CHANGE_KEYS if key in event.payload})
    if event.type == alert_events.RECEIVED:
        data["alert"] = event.payload.get("alert")
    return {
        "type": event_type,
        "timestamp": occurred_at.isoformat().replace("+00:00", "Z"),
        "data": json.loads(JSONRenderer().render(data)),
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(webhook, message_id: str, data: bytes, *, at: datetime | None = None) -> dict:
    """The Standard Webhooks headers of a message (both signatures during a rotation)."""
    at = at or timezone.now()
    keys = [webhook.secret]
    if webhook.previous_secret and (webhook.previous_secret_until or at) > at:
        keys.append(webhook.previous_secret)
    signatures = [Signer(key).sign(message_id, at, data) for key in keys]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
