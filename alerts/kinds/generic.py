"""The generic webhook, in Beacon's own documented shape (see the README's "Generic
webhook"): ``POST /integrations/generic/<key>/`` with one event."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from alerts import receiving
from alerts.kinds.base import Example, IntegrationKind, Setup, absolute_url, curl
from alerts.models import Integration
from alerts.parsing import (
    DEDUP_KEY_MAX,
    SUMMARY_MAX,
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


def parse_event(data: Any) -> Event:
    """``{"action", "dedup_key", "summary", "severity", "source", "details", "links",
    "timestamp"}``."""
    data = json_object(data)
    errors: list[str] = []
    action = data.get("action", "trigger")
    if action not in ACTIONS:
        errors.append("'action' must be one of trigger, acknowledge, resolve")
    dedup_key = text(data.get("dedup_key"), "dedup_key", errors, limit=DEDUP_KEY_MAX)
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    summary = text(
        data.get("summary"), "summary", errors, required=action == "trigger", limit=SUMMARY_MAX
    )
    severity = data.get("severity", "warning")
    if severity not in SEVERITIES:
        errors.append("'severity' must be one of critical, error, warning, info")
    source = text(data.get("source"), "source", errors, limit=255)
    details = data.get("details") or {}
    if not isinstance(details, dict):
        errors.append("'details' must be an object")
        details = {}
    sent_links = links(data.get("links"), "links", errors)
    occurred_at = parse_timestamp(data.get("timestamp"), "timestamp", errors)
    if errors:
        raise InvalidEvent(errors)
    return Event(
        action=action,
        dedup_key=dedup_key or uuid.uuid4().hex,
        summary=summary or f"{action} {dedup_key}",
        note=summary,
        severity=severity,
        source=source,
        description=description(
            ("Source", source),
            ("Details", details_markdown(details)),
            ("Links", links_markdown(sent_links)),
        ),
        occurred_at=occurred_at,
        payload=data,
    )


@csrf_exempt
@transaction.non_atomic_requests
def receive(request, key: str):
    def handle(data):
        integration = receiving.integration_for(key, Integration.Kind.GENERIC)
        event = parse_event(data)
        return receiving.store_and_apply(
            request, integration, [event], receiving.WEBHOOK, dedup_key=event.dedup_key
        )

    return receiving.receive(request, receiving.WEBHOOK, handle)


urlpatterns = [
    path("integrations/generic/<str:key>/", receive, name="generic"),
    path("integrations/generic/<str:key>", receive),
]


def example_bodies(integration: Integration) -> dict[str, dict]:
    return {
        "generic": {
            "action": "trigger",
            "dedup_key": "disk-full-db-1",
            "summary": "Disk 95% full on db-1",
            "severity": "critical",
            "source": "db-1.example.com",
            "details": {"used_percent": 95, "mount": "/var/lib/postgresql"},
        }
    }


def setup(request, integration: Integration) -> Setup:
    url = absolute_url(request, "generic", key=integration.key)
    return Setup(
        urls=[("Webhook", url)],
        examples=[Example("Trigger an alert", curl(url, example_bodies(integration)["generic"]))],
    )


KIND = IntegrationKind(
    kind=Integration.Kind.GENERIC,
    route="generic",
    key_in_url=True,
    key_travels="(the key is part of the URL)",
    urlpatterns=urlpatterns,
    example_bodies=example_bodies,
    setup=setup,
)
