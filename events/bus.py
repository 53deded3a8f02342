"""Domain events: apps define the types they publish and subscribe to the types of the
apps below them, so a lower layer reports what happened without knowing who listens.

Publishing writes :class:`~events.models.Event` rows in the caller's transaction. After
that transaction commits, :func:`dispatch` sends one Celery task per (event, subscriber);
:mod:`events.delivery` runs each pair once and in stream order, and a periodic sweep
sends again what a lost dispatch never delivered (broker down at commit, process killed
between commit and send).

    # incidents/events.py, at import
    CREATED = bus.define("incident.created", "An incident was opened.")

    # oncall/apps.py, in ready()
    bus.subscribe("oncall.escalation", start_escalation, types=[CREATED])
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from functools import partial

from django.db import transaction
from django.utils import timezone

from events.models import Event

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EventType:
    name: str
    description: str


@dataclasses.dataclass(frozen=True)
class Subscriber:
    name: str
    handler: Callable[[Event], None]
    types: frozenset[str]


TYPES: dict[str, EventType] = {}
SUBSCRIBERS: dict[str, Subscriber] = {}


def define(name: str, description: str) -> str:
    """Declares an event type (``<subject>.<what happened>``); returns its name."""
    known = TYPES.get(name)
    if known is not None and known.description != description:
        raise ValueError(f"Event type {name!r} is defined twice.")
    TYPES[name] = EventType(name, description)
    return name


def subscribe(name: str, handler: Callable[[Event], None], *, types: Iterable[str]) -> None:
    """Registers a handler (in ``AppConfig.ready``) under a name that never changes: the
    name is how a delivery is remembered. The handler runs in the organization's
    transaction; whatever it writes commits together with the record that it ran."""
    wanted = frozenset(types)
    unknown = wanted - TYPES.keys()
    if unknown:
        raise ValueError(f"Unknown event types: {', '.join(sorted(unknown))}")
    if name in SUBSCRIBERS and SUBSCRIBERS[name].handler is not handler:
        raise ValueError(f"A subscriber named {name!r} is registered already.")
    SUBSCRIBERS[name] = Subscriber(name, handler, wanted)


def unsubscribe(name: str) -> None:
    SUBSCRIBERS.pop(name, None)


def subscribers_of(event_type: str) -> list[str]:
    return sorted(name for name, sub in SUBSCRIBERS.items() if event_type in sub.types)


def event(*, organization_id: int, type: str, stream: str, payload: dict) -> Event:
    """An unsaved event, for :func:`publish_many`."""
    if type not in TYPES:
        raise ValueError(f"Unknown event type {type!r}: define it first.")
    return Event(organization_id=organization_id, type=type, stream=stream, payload=payload)


def publish(*, organization_id: int, type: str, stream: str, payload: dict) -> Event:
    """Writes one event in the current transaction; it is dispatched after commit."""
    [published] = publish_many(
        [event(organization_id=organization_id, type=type, stream=stream, payload=payload)]
    )
    return published


def publish_many(events: list[Event]) -> list[Event]:
    """Writes events in one statement; an event nobody subscribes to is complete at once."""
    if not events:
        return []
    now = timezone.now()
    for item in events:
        item.occurred_at = now
        if not subscribers_of(item.type):
            item.completed_at = now
    created = Event.objects.bulk_create(events)
    pending = [
        (item.organization_id, item.pk, item.type) for item in created if item.completed_at is None
    ]
    if pending:
        transaction.on_commit(partial(dispatch, pending))
    return created


def dispatch(events: Iterable[tuple[int, int, str]]) -> int:
    """Runs after commit: one delivery task per (event, subscriber of its type)."""
    return dispatch_to(
        (organization_id, event_id, subscriber)
        for organization_id, event_id, event_type in events
        for subscriber in subscribers_of(event_type)
    )


def dispatch_to(deliveries: Iterable[tuple[int, int, str]]) -> int:
    """Sends a task per (organization, event, subscriber); returns how many were sent.

    A broker that cannot be reached loses nothing: the events stay pending in the
    database and the sweep sends them later, so this logs and stops.
    """
    from events.tasks import deliver

    sent = 0
    for organization_id, event_id, subscriber in deliveries:
        try:
            deliver.apply_async(
                (organization_id, event_id, subscriber),
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
            )
        except Exception:
            log.warning(
                "event %s for %s not dispatched; the sweep will send it",
                event_id,
                subscriber,
                exc_info=True,
            )
            break
        sent += 1
    return sent
