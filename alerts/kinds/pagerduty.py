"""PagerDuty Events API v2: ``POST /v2/enqueue`` for alerts and ``POST /v2/change/enqueue``
for change events, the key in the body's ``routing_key``, answered as PagerDuty does."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from alerts import receiving, services
from alerts.kinds.base import Example, IntegrationKind, Setup, absolute_url, curl
from alerts.models import Integration
from alerts.parsing import (
    DEDUP_KEY_MAX,
    Event,
    InvalidEvent,
    description,
    details_markdown,
    json_object,
    links,
    links_markdown,
    parse_timestamp,
    text,
)
from alerts.severities import SEVERITIES

ACTIONS = ("trigger", "acknowledge", "resolve")


def parse_event(data: Any) -> tuple[str, Event]:
    """(routing key, event) from an Events API v2 body; errors as PagerDuty words them."""
    data = json_object(data)
    errors: list[str] = []
    routing_key = text(data.get("routing_key"), "routing_key", errors, required=True)
    action = data.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup_key = text(data.get("dedup_key"), "dedup_key", errors, limit=DEDUP_KEY_MAX)
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    payload = data.get("payload")
    summary = source = ""
    severity = "warning"
    occurred_at = None
    body = ""
    if action == "trigger" or payload is not None:
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
            payload = {}
        summary = text(payload.get("summary"), "payload.summary", errors, required=True)
        source = text(payload.get("source"), "payload.source", errors, required=True)
        severity = payload.get("severity")
        if severity not in SEVERITIES:
            errors.append("'payload.severity' must be one of critical, error, warning, info")
            severity = "warning"
        occurred_at = parse_timestamp(payload.get("timestamp"), "payload.timestamp", errors)
        for name in ("component", "group", "class"):
            text(payload.get(name), f"payload.{name}", errors)
        details = payload.get("custom_details")
        if details is not None and not isinstance(details, dict | str):
            errors.append("'payload.custom_details' must be an object")
        body = description(
            ("Source", source),
            (
                "Context",
                details_markdown(
                    {
                        name: payload[name]
                        for name in ("component", "group", "class")
                        if payload.get(name)
                    }
                ),
            ),
            (
                "Details",
                details_markdown(details) if isinstance(details, dict) else str(details or ""),
            ),
            ("Links", links_markdown(links(data.get("links"), "links", errors))),
        )
    links(data.get("images"), "images", errors)
    if errors:
        raise InvalidEvent(errors)
    return routing_key, Event(
        action=action,
        dedup_key=dedup_key or uuid.uuid4().hex,
        summary=summary or f"{action} {dedup_key}",
        note=summary,
        severity=severity,
        source=source,
        description=body,
        occurred_at=occurred_at,
        payload=data,
    )


def parse_change(data: Any) -> tuple[str, dict[str, Any]]:
    """(routing key, fields of a ChangeEvent) from a change event body."""
    data = json_object(data)
    errors: list[str] = []
    routing_key = text(data.get("routing_key"), "routing_key", errors, required=True)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise InvalidEvent([*errors, "'payload' is missing or not an object"])
    summary = text(payload.get("summary"), "payload.summary", errors, required=True, limit=1024)
    source = text(payload.get("source"), "payload.source", errors)
    timestamp = parse_timestamp(payload.get("timestamp"), "payload.timestamp", errors)
    details = payload.get("custom_details") or {}
    if not isinstance(details, dict):
        errors.append("'payload.custom_details' must be an object")
    sent_links = links(data.get("links"), "links", errors)
    if errors:
        raise InvalidEvent(errors)
    return routing_key, {
        "summary": summary,
        "source": source,
        "timestamp": timestamp,
        "details": details,
        "links": sent_links,
        "payload": data,
    }


def _refused(refusal: receiving.Refused) -> dict[str, Any]:
    if refusal.reason == "throttled":
        return {"status": "throttle event", "message": refusal.message}
    return {"status": "invalid event", "message": refusal.message, "errors": refusal.errors}


DIALECT = receiving.Dialect(
    accepted=lambda stored, extra: {
        "status": "success",
        "message": "Event processed",
        **extra,
    },
    refused=_refused,
)


@csrf_exempt
@transaction.non_atomic_requests
def enqueue(request):
    def handle(data):
        if data is None:
            raise InvalidEvent(["The body is empty"])
        key, event = parse_event(data)
        integration = receiving.integration_for(key, Integration.Kind.PAGERDUTY)
        return receiving.store_and_apply(
            request, integration, [event], DIALECT, dedup_key=event.dedup_key
        )

    return receiving.receive(request, DIALECT, handle)


@csrf_exempt
@transaction.non_atomic_requests
def change(request):
    def handle(data):
        if data is None:
            raise InvalidEvent(["The body is empty"])
        key, fields = parse_change(data)
        integration = receiving.integration_for(key, Integration.Kind.PAGERDUTY)
        receiving.throttle(request, integration)
        services.record_change(integration, **fields)
        return {"status": "success", "message": "Change event processed"}

    return receiving.receive(request, DIALECT, handle)


urlpatterns = [
    path("v2/enqueue", enqueue, name="pagerduty-enqueue"),
    path("integrations/pagerduty/v2/enqueue", enqueue),
    path("v2/change/enqueue", change, name="pagerduty-change"),
    path("integrations/pagerduty/v2/change/enqueue", change),
]


def example_bodies(integration: Integration) -> dict[str, dict]:
    return {
        "pagerduty-enqueue": {
            "routing_key": integration.key,
            "event_action": "trigger",
            "dedup_key": "disk-full-db-1",
            "payload": {
                "summary": "Disk 95% full on db-1",
                "source": "db-1.example.com",
                "severity": "critical",
            },
        },
        "pagerduty-change": {
            "routing_key": integration.key,
            "payload": {
                "summary": "Deployed release 2024.06.1",
                "source": "ci.example.com",
            },
        },
    }


def setup(request, integration: Integration) -> Setup:
    bodies = example_bodies(integration)
    alerts = absolute_url(request, "pagerduty-enqueue")
    changes = absolute_url(request, "pagerduty-change")
    return Setup(
        urls=[("Events API v2", alerts), ("Change events", changes)],
        examples=[
            Example("Trigger an alert", curl(alerts, bodies["pagerduty-enqueue"])),
            Example("Record a change", curl(changes, bodies["pagerduty-change"])),
        ],
    )


KIND = IntegrationKind(
    kind=Integration.Kind.PAGERDUTY,
    route="pagerduty-enqueue",
    key_in_url=False,
    key_travels="with the key as routing_key",
    urlpatterns=urlpatterns,
    example_bodies=example_bodies,
    setup=setup,
    command_hint="  with the key below as routing_key.",
    credential=lambda key: f"routing_key={key}",
)
