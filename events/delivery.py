"""Running subscribers: each (event, subscriber) once, in stream order, per organization.

A delivery locks its (organization, stream, subscriber) for the length of its
transaction, runs the subscriber for every event of the stream up to the one it was sent
for that the subscriber has not yet seen, oldest first, and records each run in the same
transaction as the subscriber's writes. A redelivered task, a second worker or the sweep
finds the records and does nothing; a delivery that fails or is killed leaves nothing
behind and is tried again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from events import bus
from events.models import Delivery, Event
from tenancy import rls

log = logging.getLogger(__name__)

SWEEP_BATCH = 500


def _lock(organization_id: int, stream: str, subscriber: str) -> None:
    """Serializes the deliveries of one stream to one subscriber (SQLite serializes every
    write transaction anyway)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"events:{organization_id}:{subscriber}:{stream}"],
        )


def deliver(organization_id: int, event_id: int, subscriber_name: str) -> int:
    """Runs the subscriber for the event and every earlier one of its stream it has not
    seen; returns how many it ran. Exceptions propagate: nothing is recorded then."""
    subscriber = bus.SUBSCRIBERS.get(subscriber_name)
    if subscriber is None:
        log.warning("no subscriber %r here; event %s left pending", subscriber_name, event_id)
        return 0
    with rls.tenant_context(organization_id):
        stream = (
            Event.objects.for_org(organization_id)
            .filter(pk=event_id)
            .values_list("stream", flat=True)
            .first()
        )
        if stream is None:
            return 0
        _lock(organization_id, stream, subscriber_name)
        due = list(
            Event.objects.for_org(organization_id)
            .filter(stream=stream, pk__lte=event_id, type__in=subscriber.types)
            .filter(completed_at__isnull=True)  # complete: everyone subscribed then has run
            .exclude(deliveries__subscriber=subscriber_name)
            .order_by("pk")
        )
        for event in due:
            subscriber.handler(event)
            Delivery.objects.create(
                organization_id=organization_id, event=event, subscriber=subscriber_name
            )
        return len(due)


def sweep_organization(organization_id: int) -> int:
    """Sends again the deliveries of events older than ``EVENTS_REDISPATCH_AFTER`` seconds
    that have not run, and marks complete the events every subscriber has seen. Returns
    how many deliveries it sent."""
    cutoff = timezone.now() - timedelta(seconds=settings.EVENTS_REDISPATCH_AFTER)
    with rls.tenant_context(organization_id):
        pending = list(
            Event.objects.for_org(organization_id)
            .filter(completed_at__isnull=True, occurred_at__lte=cutoff)
            .order_by("pk")
            .values_list("pk", "type")[:SWEEP_BATCH]
        )
        seen: dict[int, set[str]] = {}
        for event_id, subscriber in (
            Delivery.objects.for_org(organization_id)
            .filter(event_id__in=[pk for pk, _ in pending])
            .values_list("event_id", "subscriber")
        ):
            seen.setdefault(event_id, set()).add(subscriber)
        missing, complete = [], []
        for event_id, event_type in pending:
            wanted = set(bus.subscribers_of(event_type)) - seen.get(event_id, set())
            if wanted:
                missing.extend((event_id, name) for name in sorted(wanted))
            else:
                complete.append(event_id)
        Event.objects.for_org(organization_id).filter(pk__in=complete).update(
            completed_at=timezone.now()
        )
    sent = bus.dispatch_to((organization_id, event_id, name) for event_id, name in missing)
    if sent:
        log.info("sweep sent %d deliveries of organization %s", sent, organization_id)
    return sent


def purge_organization(organization_id: int) -> int:
    """Deletes complete events older than ``EVENTS_RETENTION_DAYS``: the timeline is the
    lasting record; events are the machines' working set."""
    cutoff = timezone.now() - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    deleted = 0
    while True:
        with rls.tenant_context(organization_id):
            ids = list(
                Event.objects.for_org(organization_id)
                .filter(completed_at__isnull=False, occurred_at__lt=cutoff)
                .values_list("pk", flat=True)[:SWEEP_BATCH]
            )
            Event.objects.for_org(organization_id).filter(pk__in=ids).delete()
        deleted += len(ids)
        if len(ids) < SWEEP_BATCH:
            return deleted
