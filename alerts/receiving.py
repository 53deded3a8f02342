"""How every ingestion endpoint receives a request; each kind (:mod:`alerts.kinds`) adds
its parsing and the answers its tool expects.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import JsonResponse
from django_ratelimit.core import is_ratelimited

from alerts import services
from alerts.models import Integration
from alerts.parsing import InvalidEvent, parse_json

logger = logging.getLogger(__name__)


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
    invalid_status: int = 400  # an event that does not parse
    unknown_key_status: int = 404
    # Extra fields of an accepted answer, from the time (time.monotonic) the request began.
    timing: Callable[[float], dict[str, Any]] | None = None


def _webhook_accepted(stored: Stored, extra):
    new = sum(pk is not None for pk in stored.ids)
    incidents = sorted({number for number in stored.incident_numbers() if number is not None})
    return {
        "status": "success",
        "message": f"{new} stored, {len(stored.ids) - new} already received",
        "incidents": [f"INC-{number}" for number in incidents],
        **extra,
    }


# The answers of Beacon's own webhooks (Alertmanager and generic).
WEBHOOK = Dialect(
    accepted=_webhook_accepted,
    refused=lambda refusal: {
        "status": refusal.reason,
        "message": refusal.message,
        "errors": refusal.errors,
    },
)


def read_body(request) -> bytes:
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


def integration_for(key: str, kind: str) -> Integration:
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


def throttle(request, integration: Integration) -> None:
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


def receive(request, dialect: Dialect, handle: Callable[[Any], dict[str, Any]]) -> JsonResponse:
    started = time.monotonic()
    if request.method != "POST":
        refusal = Refused(405, "invalid event", "Send events with POST.")
        return JsonResponse(dialect.refused(refusal), status=405, headers={"Allow": "POST"})
    try:
        body = read_body(request)
        data = parse_json(body) if body.strip() else None
        with transaction.atomic():  # committed before the answer: durable
            answer = handle(data)
        if callable(answer):
            answer = answer()
    except InvalidEvent as exc:
        refusal = Refused(400, "invalid event", "Event object is invalid", exc.errors)
        return JsonResponse(dialect.refused(refusal), status=dialect.invalid_status)
    except Refused as refusal:
        status = refusal.status
        if status == 404:
            status = dialect.unknown_key_status
        response = JsonResponse(dialect.refused(refusal), status=status)
        if status == 429:
            response["Retry-After"] = "60"
        return response
    if dialect.timing is not None:
        answer.update(dialect.timing(started))
    return JsonResponse(answer, status=202)


def store_and_apply(request, integration: Integration, events, dialect: Dialect, **extra):
    """Stores the events (in the request's first transaction) and returns what, once that
    committed, applies them and words the answer."""
    throttle(request, integration)
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
