"""Opsgenie's Alert API: create with ``POST /v2/alerts``, acknowledge and close by alias,
the key in ``Authorization: GenieKey <key>``, answered as Opsgenie does."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from django.db import transaction
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from alerts import receiving
from alerts.kinds.base import Example, IntegrationKind, Setup, absolute_url, curl
from alerts.models import Alert, Integration
from alerts.parsing import (
    DEDUP_KEY_MAX,
    Event,
    InvalidEvent,
    description,
    details_markdown,
    json_object,
    text,
)

PRIORITIES = {
    "P1": "critical",
    "P2": "error",
    "P3": "warning",
    "P4": "info",
    "P5": "info",
}


def parse_create(data: Any) -> Event:
    data = json_object(data)
    errors: list[str] = []
    message = text(data.get("message"), "message", errors, required=True, limit=130)
    alias = text(data.get("alias"), "alias", errors, limit=DEDUP_KEY_MAX)
    body = text(data.get("description"), "description", errors, limit=15_000)
    priority = data.get("priority", "P3")
    if not isinstance(priority, str) or priority not in PRIORITIES:
        errors.append("'priority' must be one of P1, P2, P3, P4, P5")
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        errors.append("'tags' must be a list of strings")
        tags = []
    details = data.get("details") or {}
    if not isinstance(details, dict):
        errors.append("'details' must be an object")
        details = {}
    source = text(data.get("source"), "source", errors, limit=100)
    entity = text(data.get("entity"), "entity", errors, limit=512)
    if errors:
        raise InvalidEvent(errors)
    return Event(
        action=Alert.Action.TRIGGER,
        dedup_key=alias or hashlib.sha256(message.encode()).hexdigest()[:40],
        summary=message,
        severity=PRIORITIES.get(priority, "warning"),
        source=source or entity,
        description=description(
            ("Description", body), ("Entity", entity), ("Details", details_markdown(details))
        ),
        tags=[tag[:100] for tag in tags][:30],
        payload=data,
    )


def parse_action(action: str, alias: str, data: Any) -> Event:
    """Acknowledge or close by alias; the body (note, user, source) may be empty."""
    data = {} if data in (None, b"") else json_object(data)
    errors: list[str] = []
    note = text(data.get("note"), "note", errors, limit=25_000)
    user = text(data.get("user"), "user", errors, limit=100)
    source = text(data.get("source"), "source", errors, limit=100)
    if not alias or len(alias) > DEDUP_KEY_MAX:
        errors.append(f"The alias must be 1 to {DEDUP_KEY_MAX} characters")
    if errors:
        raise InvalidEvent(errors)
    return Event(
        action=action,
        dedup_key=alias,
        summary=note or f"{action} by {user or source or 'Opsgenie API'}",
        note=note,
        source=source or user,
        payload={"alias": alias, **data},
    )


def _took(started: float | None = None) -> dict[str, Any]:
    took = 0.0 if started is None else round(time.monotonic() - started, 3)
    return {"took": took, "requestId": str(uuid.uuid4())}


DIALECT = receiving.Dialect(
    accepted=lambda stored, extra: {"result": "Request will be processed", **extra},
    refused=lambda refusal: {"message": refusal.message, "errors": refusal.errors, **_took()},
    invalid_status=422,
    unknown_key_status=401,  # Opsgenie answers an unknown GenieKey so
    timing=_took,
)


def _genie_key(request) -> str:
    scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "geniekey" or not key.strip():
        raise receiving.Refused(401, "invalid key", "Authorization: GenieKey <key> is required.")
    return key.strip()


@csrf_exempt
@transaction.non_atomic_requests
def create(request):
    def handle(data):
        integration = receiving.integration_for(_genie_key(request), Integration.Kind.OPSGENIE)
        event = parse_create(data)
        return receiving.store_and_apply(request, integration, [event], DIALECT)

    return receiving.receive(request, DIALECT, handle)


def _action(action: str):
    @csrf_exempt
    @transaction.non_atomic_requests
    def view(request, identifier: str):
        def handle(data):
            integration = receiving.integration_for(_genie_key(request), Integration.Kind.OPSGENIE)
            if request.GET.get("identifierType", "id") != "alias":
                raise InvalidEvent(["Beacon finds alerts by alias: add ?identifierType=alias"])
            event = parse_action(action, identifier, data)
            return receiving.store_and_apply(request, integration, [event], DIALECT)

        return receiving.receive(request, DIALECT, handle)

    return view


urlpatterns = [
    path("v2/alerts", create, name="opsgenie-create"),
    path(
        "v2/alerts/<path:identifier>/acknowledge",
        _action("acknowledge"),
        name="opsgenie-acknowledge",
    ),
    path("v2/alerts/<path:identifier>/close", _action("resolve"), name="opsgenie-close"),
]


def example_bodies(integration: Integration) -> dict[str, dict]:
    return {
        "opsgenie-create": {
            "message": "Disk 95% full on db-1",
            "alias": "disk-full-db-1",
            "priority": "P1",
        }
    }


def setup(request, integration: Integration) -> Setup:
    url = absolute_url(request, "opsgenie-create")
    host = request.build_absolute_uri("/").rstrip("/")
    body = example_bodies(integration)["opsgenie-create"]
    return Setup(
        urls=[("Alert API", url), ("API host (for Opsgenie's client libraries)", host)],
        examples=[
            Example(
                "Create an alert",
                curl(url, body, f"Authorization: GenieKey {integration.key}"),
            )
        ],
    )


KIND = IntegrationKind(
    kind=Integration.Kind.OPSGENIE,
    route="opsgenie-create",
    key_in_url=False,
    key_travels="with the header Authorization: GenieKey <key>",
    urlpatterns=urlpatterns,
    example_bodies=example_bodies,
    setup=setup,
    command_hint="  with the header Authorization: GenieKey <the key below>.",
    credential=lambda key: f"Authorization: GenieKey {key}",
)
