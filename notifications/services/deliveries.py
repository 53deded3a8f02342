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
from tenancy import audit, rls

log = logging.getLogger(__name__)

RETRY_BUDGET = 3  # attempts a retry by hand allows
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(hours=6)


def lease() -> timedelta:
    """How long a sender holds a delivery: longer than the send task may run (it is
    stopped at :func:`send_limits`), after which the sender is taken to have died."""
    return timedelta(seconds=2 * settings.BEACON_WEBHOOK_TIMEOUT + 10)


def send_limits() -> dict:
    """The send task's time limits: a send never outlives its lease."""
    timeout = settings.BEACON_WEBHOOK_TIMEOUT
    return {"soft_time_limit": 2 * timeout, "time_limit": 2 * timeout + 5}


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
        for hook in Webhook.objects.for_org(event.organization_id)
        .filter(is_active=True)
        .only("pk", "name", "events", "organization_id")
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
    periodic sweep sends them anyway if this is lost, or the broker is down). Many of
    these in a row queue each delivery once: the first takes what is due
    (:func:`due_ids`)."""

    def send():
        signature = current_app.signature("notifications.tasks.send_due", args=(organization_id,))
        try:
            signature.delay()
        except (OperationalError, OSError):
            log.warning("deliveries of %s wait for the sweep", organization_id, exc_info=True)

    transaction.on_commit(send)


def backoff(attempts: int, retry_after: timedelta | None = None) -> timedelta:
    """How long before attempt ``attempts + 1``: doubling from :data:`FIRST_BACKOFF`,
    capped, with jitter (half to all of it); never sooner than ``Retry-After`` asks."""
    wait = min(FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 12), MAX_BACKOFF)
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
        if delivery.attempts >= delivery.budget:  # its sends never came back to say how
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
            delivery.last_error = f"Gave up after {delivery.attempts} attempts."
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return None
        if why:
            delivery.status, delivery.next_attempt_at = Delivery.Status.CANCELLED, None
            delivery.last_error = why
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = timezone.now() + lease()
        delivery.queued_at = None  # its message to the worker is used up
        delivery.save(update_fields=["attempts", "next_attempt_at", "queued_at"])
        return delivery


def _clean(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL text holds no NUL


def _sent(delivery: Delivery) -> channels.Outcome:
    try:
        return channels.channel(delivery.channel).send(delivery)
    except Exception as error:  # recorded, and tried again
        log.exception("delivery %s could not be sent", delivery.pk)
        return channels.Outcome("retry", f"Beacon could not send it ({type(error).__name__}).")


def delivery_send(*, organization_id: int, delivery_id: int) -> str | None:
    """Sends one delivery if it is due; returns its status after, None if not taken."""
    taken = _take(organization_id, delivery_id)
    if taken is None:
        return None
    started = timezone.now()
    outcome = _sent(taken)
    why = _clean(outcome.why)
    with rls.tenant_context(organization_id), transaction.atomic():
        Attempt.objects.create(
            organization_id=organization_id,
            delivery=taken,
            number=taken.attempts,
            started_at=started,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=why,
            response=_clean(outcome.response),
        )
        # Still this sender's: not taken again after its lease, nor retried by hand since.
        delivery = (
            Delivery.objects.for_org(organization_id)
            .select_for_update()
            .filter(pk=taken.pk, status=Delivery.Status.PENDING, attempts=taken.attempts)
            .first()
        )
        if delivery is None:
            return None
        delivery.last_error = why
        if outcome.what == "done":
            delivery.status, delivery.next_attempt_at = Delivery.Status.DELIVERED, None
            delivery.delivered_at = timezone.now()
        elif outcome.what == "retry" and delivery.attempts < delivery.budget:
            wait = backoff(delivery.attempts, outcome.retry_after)
            delivery.next_attempt_at = timezone.now() + wait
        else:
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        if outcome.what == "gone" and taken.webhook_id:
            _turn_off(organization_id, taken.webhook_id, f"{why[:-1]}: Gone.")
        delivery.save(update_fields=["status", "next_attempt_at", "delivered_at", "last_error"])
    return delivery.status


def _turn_off(organization_id: int, webhook_id: int, why: str) -> None:
    webhook = (
        Webhook.objects.for_org(organization_id)
        .select_related("organization")
        .filter(pk=webhook_id)
        .first()
    )
    if webhook is None or not webhook.is_active:
        return
    webhook.is_active, webhook.disabled_reason, webhook.updated_at = False, why, timezone.now()
    webhook.save(update_fields=["is_active", "disabled_reason", "updated_at"])
    audit.record(
        organization=webhook.organization,
        actor=None,
        action="webhook.turned_off",
        target=webhook,
        after={"is_active": False, "disabled_reason": why},
    )


QUEUED_FOR = timedelta(minutes=1)  # a delivery queued is not queued again before


def due_ids(organization_id: int, *, limit: int = 200) -> list[int]:
    """The organization's deliveries due now, oldest first, marked queued: the sweep
    queues each again only if it is still due a minute later (its send was lost)."""
    now = timezone.now()
    with rls.tenant_context(organization_id), transaction.atomic():
        due = list(
            Delivery.objects.for_org(organization_id)
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .exclude(queued_at__gt=now - QUEUED_FOR)
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        Delivery.objects.for_org(organization_id).filter(pk__in=due).update(queued_at=now)
    return due


@rls.in_tenant
def delivery_retry(*, organization, actor, delivery: Delivery) -> Delivery:
    """A failed or cancelled delivery is tried again now (from the admin or the API), with
    a few more attempts."""
    delivery = Delivery.objects.for_org(organization).select_for_update().get(pk=delivery.pk)
    if delivery.status in (Delivery.Status.PENDING, Delivery.Status.DELIVERED):
        raise Conflict(f"This delivery is {delivery.status}.", field="status")
    delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, timezone.now()
    delivery.budget, delivery.queued_at = delivery.attempts + RETRY_BUDGET, None
    delivery.save(update_fields=["status", "next_attempt_at", "budget", "queued_at"])
    send_after_commit(organization.pk)
    return delivery
