"""The outbox: deciding deliveries, sending them, and trying again.

A subscriber decides what to send and writes one :class:`Delivery` per recipient in the
transaction of the event's handling, under a unique key, so handling an event twice
sends nothing twice. :func:`delivery_send` sends one: it takes the row while it is due
and nobody holds it, moves its next attempt a lease ahead and commits, sends outside any
transaction, then records the attempt. A worker that dies mid-send leaves the row due
again once its lease is over, so a message is sent at least once (a receiver
deduplicates by ``webhook-id``). Failures are tried again with exponential backoff and
jitter (or when ``Retry-After`` says), up to its ``budget`` of attempts; an answer that means
"stop" (4xx) fails it at once, and ``410 Gone`` also turns the webhook off.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from core import extensions
from core.errors import Conflict
from incidents.api.serializers import IncidentSerializer
from incidents.models import Incident
from notifications import channels, webhooks
from notifications.models import Attempt, Delivery, Webhook
from tenancy import rls

log = logging.getLogger(__name__)

RETRY_BUDGET = 3  # attempts a retry by hand allows
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(hours=6)


def lease() -> timedelta:
    """How long a sender holds a delivery: longer than a send can take (its timeout covers
    redirects too), after which a sender that died is assumed dead."""
    return timedelta(seconds=2 * settings.BEACON_WEBHOOK_TIMEOUT + 5)


def _incident_data(organization_id: int, incident_id: int) -> dict | None:
    incident = (
        Incident.objects.for_org(organization_id)
        .select_related(
            "category", "service", "team", "assignee", "reporter", "commander", "comms_lead"
        )
        .prefetch_related(*extensions.prefetches(Incident))
        .filter(pk=incident_id)
        .first()
    )
    return None if incident is None else IncidentSerializer(incident).data


def webhook_deliveries(event) -> None:
    """Subscriber: a delivery per active webhook that wants the event (as each of the
    types it is sent as), sent after the handling commits."""
    types = webhooks.types_of(event)
    hooks = [
        (hook, event_type)
        for hook in Webhook.objects.for_org(event.organization_id).filter(is_active=True)
        for event_type in types
        if event_type in hook.events
    ]
    incident_id = event.payload.get("incident", {}).get("id")
    if not hooks or incident_id is None:
        return
    data = _incident_data(event.organization_id, incident_id)
    if data is None:
        return
    now = timezone.now()
    rows = [
        Delivery(
            organization_id=event.organization_id,
            key=f"event:{event.pk}:{event_type}:webhook:{hook.pk}",
            channel=Delivery.Channel.WEBHOOK,
            webhook=hook,
            recipient=hook.name,
            incident_id=incident_id,
            event_type=event_type,
            message_id=f"msg_{uuid.uuid4().hex}",
            payload=webhooks.body(event_type, event.occurred_at, data, event),
            next_attempt_at=now,
        )
        for hook, event_type in hooks
    ]
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    send_after_commit(event.organization_id)


def send_after_commit(organization_id: int) -> None:
    """Sends the organization's due deliveries once the current transaction commits (the
    periodic sweep sends them anyway if this is lost, or the broker is down)."""

    def send():
        try:
            current_app.signature("notifications.tasks.send_due", args=(organization_id,)).delay()
        except (OperationalError, OSError):
            log.warning("deliveries of %s wait for the sweep", organization_id, exc_info=True)

    transaction.on_commit(send)


def backoff(attempts: int, retry_after: timedelta | None = None) -> timedelta:
    """How long before attempt ``attempts + 1``: doubling from :data:`FIRST_BACKOFF`,
    capped, with jitter (half to all of it); never sooner than ``Retry-After`` asks."""
    wait = min(FIRST_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)
    wait = wait * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return wait


def _take(organization_id: int, delivery_id: int) -> Delivery | None:
    """The delivery, if it is due and nobody holds it, leased to this sender; one its
    channel can no longer send is cancelled instead."""
    with rls.tenant_context(organization_id), transaction.atomic():
        delivery = (
            Delivery.objects.for_org(organization_id)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(
                pk=delivery_id,
                status=Delivery.Status.PENDING,
                next_attempt_at__lte=timezone.now(),
            )
            .first()
        )
        if delivery is None:
            return None
        why = channels.channel(delivery.channel).unusable(delivery)
        if why:
            delivery.status, delivery.next_attempt_at = Delivery.Status.CANCELLED, None
            delivery.last_error = why
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = timezone.now() + lease()
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        return delivery


def delivery_send(*, organization_id: int, delivery_id: int) -> str | None:
    """Sends one delivery if it is due; returns its status after, None if not taken."""
    delivery = _take(organization_id, delivery_id)
    if delivery is None:
        return None
    started = timezone.now()
    outcome = channels.channel(delivery.channel).send(delivery)
    with rls.tenant_context(organization_id), transaction.atomic():
        Attempt.objects.create(
            organization_id=organization_id,
            delivery=delivery,
            number=delivery.attempts,
            started_at=started,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.why,
            response=outcome.response,
        )
        delivery.last_error = outcome.why
        if outcome.what == "done":
            delivery.status, delivery.next_attempt_at = Delivery.Status.DELIVERED, None
            delivery.delivered_at = timezone.now()
        elif outcome.what == "retry" and delivery.attempts < delivery.budget:
            wait = backoff(delivery.attempts, outcome.retry_after)
            delivery.next_attempt_at = timezone.now() + wait
        else:
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        if outcome.what == "gone" and delivery.webhook_id:
            Webhook.objects.for_org(organization_id).filter(pk=delivery.webhook_id).update(
                is_active=False, disabled_reason=f"{outcome.why[:-1]}: Gone."
            )
        delivery.save(update_fields=["status", "next_attempt_at", "delivered_at", "last_error"])
    return delivery.status


def due_ids(organization_id: int, *, limit: int = 200) -> list[int]:
    """The organization's deliveries due now, oldest first."""
    with rls.tenant_context(organization_id):
        return list(
            Delivery.objects.for_org(organization_id)
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )


@rls.in_tenant
def delivery_retry(*, organization, actor, delivery: Delivery) -> Delivery:
    """A failed or cancelled delivery is tried again now (from the admin or the API), with
    a few more attempts."""
    delivery = Delivery.objects.for_org(organization).select_for_update().get(pk=delivery.pk)
    if delivery.status in (Delivery.Status.PENDING, Delivery.Status.DELIVERED):
        raise Conflict(f"This delivery is {delivery.status}.", field="status")
    delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, timezone.now()
    delivery.budget = delivery.attempts + RETRY_BUDGET
    delivery.save(update_fields=["status", "next_attempt_at", "budget"])
    send_after_commit(organization.pk)
    return delivery
