"""The ingestion endpoints. Each answers in the shape its tool expects.

Every request: refuse bodies over 512 KB, parse the JSON and the format (400 with every
problem), find the integration by its key (unknown, inactive, of a deactivated
organization or of another kind: a 4xx, nothing stored), apply the integration's rate
limit (429), store the events in a transaction that commits before the 202, then have them
applied (see alerts.services). The request does nothing else: paging and notification are
the workers' job.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.core import is_ratelimited

from alerts import formats, services
from alerts.events import InvalidEvent, parse_json
from incidents.models import Integration

logger = logging.getLogger(__name__)
Kind = Integration.Kind


class Refused(Exception):
    def __init__(self, status: int, reason: str, message: str, errors: list[str] | None = None):
        self.status, self.reason, self.message = status, reason, message
        self.errors = errors or [message]


@dataclass(frozen=True)
class Stored:
    """What a request stored (an id per event, None for a re-sent alert) and, read only
    when an answer names them, the incidents the events are on."""

    ids: list[int | None]
    incident_numbers: Callable[[], list[int | None]]


@dataclass(frozen=True)
class Dialect:
    """How one tool's API words its answers."""

    accepted: Callable[[Stored, dict[str, Any]], dict[str, Any]]
    refused: Callable[[Refused], dict[str, Any]]


def _pagerduty_refused(refusal: Refused) -> dict[str, Any]:
    if refusal.reason == "throttled":
        return {"status": "throttle event", "message": refusal.message}
    return {"status": "invalid event", "message": refusal.message, "errors": refusal.errors}


PAGERDUTY = Dialect(
    accepted=lambda stored, extra: {
        "status": "success",
        "message": "Event processed",
        **extra,
    },
    refused=_pagerduty_refused,
)


def _webhook_accepted(stored: Stored, extra):
    new = sum(pk is not None for pk in stored.ids)
    incidents = sorted({number for number in stored.incident_numbers() if number is not None})
    return {
        "status": "success",
        "message": f"{new} stored, {len(stored.ids) - new} already received",
        "incidents": [f"INC-{number}" for number in incidents],
        **extra,
    }


WEBHOOK = Dialect(
    accepted=_webhook_accepted,
    refused=lambda refusal: {
        "status": refusal.reason,
        "message": refusal.message,
        "errors": refusal.errors,
    },
)

OPSGENIE = Dialect(
    accepted=lambda stored, extra: {"result": "Request will be processed", **extra},
    refused=lambda refusal: {"message": refusal.message, "errors": refusal.errors, **_took()},
)


def _took(started: float | None = None) -> dict[str, Any]:
    took = 0.0 if started is None else round(time.monotonic() - started, 3)
    return {"took": took, "requestId": str(uuid.uuid4())}


def _body(request) -> bytes:
    limit = settings.ALERT_MAX_BODY_BYTES
    too_large = Refused(
        413, "invalid event", f"The body is larger than {limit // 1024} KB", ["Body too large"]
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


def _integration(key: str, kind: str) -> Integration:
    integration = services.integration_for_key(key)
    if not services.accepts_events(integration):
        # A deactivated organization's keys answer as unknown keys: it accepts nothing.
        raise Refused(404, "invalid key", "No active integration has this key.", ["Invalid key"])
    if integration.kind != kind:
        raise Refused(
            400,
            "invalid key",
            f"This key belongs to a {integration.get_kind_display()} integration; send its "
            "events to that integration's URL.",
            ["Integration kind does not match the endpoint"],
        )
    return integration


def _rate(integration: Integration) -> Callable:
    return lambda group, request: (integration.rate_limit_per_minute, 60)


def _throttle(request, integration: Integration) -> None:
    if is_ratelimited(
        request,
        group="alerts.ingest",
        key=lambda group, request: integration.key,
        rate=_rate(integration),
        increment=True,
    ):
        raise Refused(
            429,
            "throttled",
            "Requests for this integration are arriving too quickly. Please retry later.",
        )


def _receive(request, dialect: Dialect, handle: Callable[[Any], dict[str, Any]]) -> JsonResponse:
    started = time.monotonic()
    if request.method != "POST":
        refusal = Refused(405, "invalid event", "Send events with POST.")
        return JsonResponse(dialect.refused(refusal), status=405, headers={"Allow": "POST"})
    try:
        body = _body(request)
        data = parse_json(body) if body.strip() else None
        with transaction.atomic():  # committed before the answer: durable
            answer = handle(data)
        if callable(answer):
            answer = answer()
    except InvalidEvent as exc:
        refusal = Refused(400, "invalid event", "Event object is invalid", exc.errors)
        status = 422 if dialect is OPSGENIE else 400
        return JsonResponse(dialect.refused(refusal), status=status)
    except Refused as refusal:
        status = refusal.status
        if dialect is OPSGENIE and status == 404:
            status = 401  # Opsgenie answers an unknown GenieKey so
        response = JsonResponse(dialect.refused(refusal), status=status)
        if status == 429:
            response["Retry-After"] = "60"
        return response
    if dialect is OPSGENIE:
        answer.update(_took(started))
    return JsonResponse(answer, status=202)


def _apply(request, integration: Integration, events, dialect: Dialect, **extra):
    """Stores the events (in the request's first transaction) and returns what, once that
    committed, applies them and words the answer."""
    _throttle(request, integration)
    events = list(events)
    ids = services.store(integration, events)

    def after_commit():
        applied = {}
        try:
            # A re-sent alert's first copy may still be waiting: its answer names its incident.
            waiting = ids + services.first_copies(integration, events, ids)
            applied = services.apply_stored(integration.organization_id, waiting)
        except Exception:  # stored all the same: the sweep applies them later
            logger.exception("Alerts %s are stored but not applied yet", ids)

        def numbers():
            try:
                return services.incident_numbers(integration, events, ids, applied)
            except DatabaseError:  # stored all the same: answer without the numbers
                logger.exception("Could not read back the incidents of alerts %s", ids)
                return [applied.get(pk) for pk in ids]

        return dialect.accepted(Stored(ids, numbers), extra)

    return after_commit


# --- PagerDuty -------------------------------------------------------------------------


@csrf_exempt
@transaction.non_atomic_requests
def pagerduty_enqueue(request):
    def handle(data):
        if data is None:
            raise InvalidEvent(["The body is empty"])
        key, event = formats.pagerduty_event(data)
        integration = _integration(key, Kind.PAGERDUTY)
        return _apply(request, integration, [event], PAGERDUTY, dedup_key=event.dedup_key)

    return _receive(request, PAGERDUTY, handle)


@csrf_exempt
@transaction.non_atomic_requests
def pagerduty_change(request):
    def handle(data):
        if data is None:
            raise InvalidEvent(["The body is empty"])
        key, fields = formats.pagerduty_change(data)
        integration = _integration(key, Kind.PAGERDUTY)
        _throttle(request, integration)
        services.record_change(integration, **fields)
        return {"status": "success", "message": "Change event processed"}

    return _receive(request, PAGERDUTY, handle)


# --- Alertmanager and the generic webhook ------------------------------------------------


@csrf_exempt
@transaction.non_atomic_requests
def alertmanager(request, key: str):
    def handle(data):
        integration = _integration(key, Kind.ALERTMANAGER)
        events = formats.alertmanager_events(data)
        return _apply(request, integration, events, WEBHOOK)

    return _receive(request, WEBHOOK, handle)


@csrf_exempt
@transaction.non_atomic_requests
def generic(request, key: str):
    def handle(data):
        integration = _integration(key, Kind.GENERIC)
        event = formats.generic_event(data)
        return _apply(request, integration, [event], WEBHOOK, dedup_key=event.dedup_key)

    return _receive(request, WEBHOOK, handle)


# --- Opsgenie ------------------------------------------------------------------------------


def _genie_key(request) -> str:
    scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "geniekey" or not key.strip():
        raise Refused(401, "invalid key", "Authorization: GenieKey <key> is required.")
    return key.strip()


@csrf_exempt
@transaction.non_atomic_requests
def opsgenie_create(request):
    def handle(data):
        integration = _integration(_genie_key(request), Kind.OPSGENIE)
        event = formats.opsgenie_create(data)
        return _apply(request, integration, [event], OPSGENIE)

    return _receive(request, OPSGENIE, handle)


def _opsgenie_action(action: str):
    @csrf_exempt
    @transaction.non_atomic_requests
    def view(request, identifier: str):
        def handle(data):
            integration = _integration(_genie_key(request), Kind.OPSGENIE)
            if request.GET.get("identifierType", "id") != "alias":
                raise InvalidEvent(["Beacon finds alerts by alias: add ?identifierType=alias"])
            event = formats.opsgenie_action(action, identifier, data)
            return _apply(request, integration, [event], OPSGENIE)

        return _receive(request, OPSGENIE, handle)

    return view


urlpatterns = [
    path("v2/enqueue", pagerduty_enqueue, name="pagerduty-enqueue"),
    path("integrations/pagerduty/v2/enqueue", pagerduty_enqueue),
    path("v2/change/enqueue", pagerduty_change, name="pagerduty-change"),
    path("integrations/pagerduty/v2/change/enqueue", pagerduty_change),
    path("integrations/alertmanager/<str:key>/", alertmanager, name="alertmanager"),
    path("integrations/alertmanager/<str:key>", alertmanager),
    path("integrations/generic/<str:key>/", generic, name="generic"),
    path("integrations/generic/<str:key>", generic),
    path("v2/alerts", opsgenie_create, name="opsgenie-create"),
    path(
        "v2/alerts/<path:identifier>/acknowledge",
        _opsgenie_action("acknowledge"),
        name="opsgenie-acknowledge",
    ),
    path("v2/alerts/<path:identifier>/close", _opsgenie_action("resolve"), name="opsgenie-close"),
]
