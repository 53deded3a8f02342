"""Running subscribers: each (event, subscriber) once, in stream order, per organization.

A delivery locks its (organization, stream, subscriber) for the length of its
transaction, runs the subscriber for the events of the stream up to the one it was sent
for that the subscriber has not yet seen, oldest first (at most ``DELIVERY_BATCH``; the
task sends itself again for the rest), and records each run in the same transaction as
the subscriber's writes. A redelivered task, a second worker or the sweep finds the
records and does nothing; a delivery that fails or is killed leaves nothing behind and
is tried again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from events.models import Delivery, Event
from events.registry import SUBSCRIBERS, subscribers_of
from tenancy import rls

log = logging.getLogger(__name__)

DELIVERY_BATCH = 100  # events one delivery runs before it hands over to a fresh task
SWEEP_BATCH = 500  # events the sweep reads per query
SWEEP_PAGES = 40  # pages one sweep reads at most
BACKOFF_STEPS = 6  # a failing event is sent again 1, 2, 4 … 64 times REDISPATCH_AFTER later


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


def deliver(organization_id: int, event_id: int, subscriber_name: str) -> tuple[int, bool]:
    """Runs the subscriber for the event and the earlier ones of its stream it has not
    seen; returns how many it ran and whether some are left for another run. Exceptions
    propagate: nothing is recorded then."""
    subscriber = SUBSCRIBERS.get(subscriber_name)
    if subscriber is None:
        log.warning("no subscriber %r here; event %s left pending", subscriber_name, event_id)
        return 0, False
    with rls.tenant_context(organization_id):
        events = Event.objects.for_org(organization_id)
        stream = events.filter(pk=event_id).values_list("stream", flat=True).first()
        if stream is None:
            return 0, False
        _lock(organization_id, stream, subscriber_name)
        due = list(
            events.filter(stream=stream, pk__lte=event_id, type__in=subscriber.types)
            .filter(completed_at__isnull=True)  # complete: everyone subscribed then has run
            .exclude(deliveries__subscriber=subscriber_name)
            .order_by("pk")[: DELIVERY_BATCH + 1]
        )
        more = len(due) > DELIVERY_BATCH
        due = due[:DELIVERY_BATCH]
        for event in due:
            subscriber.handler(event)
        Delivery.objects.bulk_create(
            [
                Delivery(organization_id=organization_id, event=event, subscriber=subscriber_name)
                for event in due
            ]
        )
        ran = [(event.pk, event.type) for event in due]
        _complete(organization_id, ran, _seen(organization_id, [pk for pk, _ in ran]))
        return len(due), more


def _seen(organization_id: int, event_ids: list[int]) -> dict[int, set[str]]:
    """Event id -> the subscribers that have run for it."""
    seen: dict[int, set[str]] = {}
    for event_id, subscriber in (
        Delivery.objects.for_org(organization_id)
        .filter(event_id__in=event_ids)
        .values_list("event_id", "subscriber")
    ):
        seen.setdefault(event_id, set()).add(subscriber)
    return seen


def _complete(
    organization_id: int, events: list[tuple[int, str]], seen: dict[int, set[str]]
) -> set[int]:
    """Marks complete those of the events every subscriber of their type has run for."""
    done = {pk for pk, kind in events if set(subscribers_of(kind)) <= seen.get(pk, set())}
    Event.objects.for_org(organization_id).filter(pk__in=done).update(completed_at=timezone.now())
    return done


def lost_deliveries(organization_id: int) -> list[tuple[int, int, str]]:
    """What the sweep sends again: for each (stream, subscriber) with events older than
    ``EVENTS_REDISPATCH_AFTER`` seconds that it has not run, its newest such event (the
    delivery brings the earlier ones along). An event sent again and still not run waits
    twice as long each time before the next; events every subscriber has run for are
    marked complete on the way."""
    now = timezone.now()
    after = timedelta(seconds=settings.EVENTS_REDISPATCH_AFTER)
    newest: dict[tuple[str, str], int] = {}
    resent: list[int] = []
    last = 0
    with rls.tenant_context(organization_id):
        pending = Event.objects.for_org(organization_id).filter(
            completed_at__isnull=True, occurred_at__lte=now - after
        )
        for _ in range(SWEEP_PAGES):
            page = list(
                pending.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", "type", "stream", "redispatches", "redispatched_at")[
                    :SWEEP_BATCH
                ]
            )
            if not page:
                break
            last = page[-1][0]
            seen = _seen(organization_id, [pk for pk, *_ in page])
            done = _complete(organization_id, [(pk, kind) for pk, kind, *_ in page], seen)
            for pk, kind, stream, times, at in page:
                if pk in done:
                    continue
                if at is not None and now - at < after * 2 ** min(times, BACKOFF_STEPS):
                    continue  # sent again not long ago: give it time
                resent.append(pk)
                for name in set(subscribers_of(kind)) - seen.get(pk, set()):
                    newest[(stream, name)] = max(newest.get((stream, name), 0), pk)
            if len(page) < SWEEP_BATCH:
                break
        Event.objects.for_org(organization_id).filter(pk__in=resent).update(
            redispatches=F("redispatches") + 1, redispatched_at=now
        )
    return [(organization_id, pk, name) for (_, name), pk in sorted(newest.items())]


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
