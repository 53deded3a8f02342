"""Outgoing webhooks: a signed POST through :mod:`notifications.outbound`. A 2xx delivers;
5xx, 408, 425, 429 and network failures are worth another try (``Retry-After`` honoured);
another 4xx stops; 410 Gone also turns the webhook off."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.utils import timezone

from notifications import outbound, webhooks
from notifications.channels import Outcome

RETRY_STATUSES = {408, 425, 429}
RESPONSE_KEPT = 500  # characters of an answer kept on the attempt


def unusable(delivery) -> str:
    if delivery.webhook is None or not delivery.webhook.is_active:
        return "The webhook was turned off or deleted."
    return ""


def retry_after(headers: dict) -> timedelta | None:
    """``Retry-After`` in seconds or as an HTTP date; None when it says neither."""
    value = (headers.get("retry-after") or "").strip()
    if re.fullmatch(r"[0-9]{1,9}", value):
        return timedelta(seconds=int(value))
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            return None
        return max(moment - timezone.now(), timedelta(0))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def send(delivery) -> Outcome:
    data = webhooks.encode(delivery.payload)
    started = time.monotonic()
    try:
        response = outbound.post(
            delivery.webhook.url,
            body=data,
            headers=webhooks.signed_headers(delivery.webhook, delivery.message_id, data),
            timeout=settings.BEACON_WEBHOOK_TIMEOUT,
        )
    except outbound.OutboundError as error:
        took = int((time.monotonic() - started) * 1000)
        return Outcome("retry" if error.retryable else "stop", error.message, duration_ms=took)
    status, why = response.status, f"The endpoint answered {response.status}."
    answer = {
        "status_code": status,
        "response": response.body[:RESPONSE_KEPT].decode("utf-8", "replace"),
        "duration_ms": response.duration_ms,
    }
    if 200 <= status < 300:
        return Outcome("done", **answer)
    if status == 410:
        return Outcome("gone", why, **answer)
    if status in RETRY_STATUSES or status >= 500:
        return Outcome("retry", why, retry_after(response.headers), **answer)
    return Outcome("stop", why, **answer)
