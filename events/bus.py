"""Domain events: apps define the types they publish and subscribe to the types of the
apps below them, so a lower layer reports what happened without knowing who listens.

Publishing writes :class:`~events.models.Event` rows in the caller's transaction, in the
order published (``id`` order is the order of a stream). After that transaction commits,
:func:`dispatch` sends a Celery task per (incident stream, subscriber);
:mod:`events.delivery` runs each (event, subscriber) once and in stream order, and a
periodic sweep sends again what a lost dispatch never delivered (broker down at commit,
process killed between commit and send).

    # incidents/events.py, at import
    CREATED = bus.define("incident.created", "An incident was opened.")

    # oncall/apps.py, in ready()
    bus.subscribe("oncall.escalation", start_escalation, types=[CREATED])

Code that publishes many events in one transaction (alert ingestion) wraps it in
:func:`collect`, so they are written with one statement at the end of the block.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.utils import timezone

from events import tasks
from events.models import Event
from events.registry import (
    SUBSCRIBERS,
    TYPES,
    define,
    subscribe,
    subscribers_of,
    unsubscribe,
)

__all__ = [
    "SUBSCRIBERS",
    "TYPES",
    "collect",
    "define",
    "dispatch",
    "event",
    "publish",
    "publish_many",
    "subscribe",
    "subscribers_of",
    "unsubscribe",
]

_collected: contextvars.ContextVar[list[Event] | None] = contextvars.ContextVar(
    "events_collected", default=None
)


def event(*, organization_id: int, type: str, stream: str, payload: dict) -> Event:
    """An unsaved event, for :func:`publish_many`."""
    if type not in TYPES:
        raise ValueError(f"Unknown event type {type!r}: define it first.")
    return Event(organization_id=organization_id, type=type, stream=stream, payload=payload)


def publish(*, organization_id: int, type: str, stream: str, payload: dict) -> None:
    """Writes one event in the current transaction; it is dispatched after commit."""
    publish_many(
        [event(organization_id=organization_id, type=type, stream=stream, payload=payload)]
    )


def publish_many(events: list[Event]) -> None:
    """Writes events in one statement (or adds them to the :func:`collect` block's)."""
    collected = _collected.get()
    if collected is not None:
        collected.extend(events)
    else:
        _write(events)


@contextlib.contextmanager
def collect():
    """Events published inside the block are written together when it ends, in the order
    published; an exception leaving the block discards them (its transaction is rolled
    back anyway). The collected events know nothing of savepoints: code in the block that
    catches a service's error relies on services publishing as their last step, so a
    refused change has published nothing (alert ingestion's "a person moved it meanwhile")."""
    if _collected.get() is not None:  # an outer block writes them
        yield
        return
    collected: list[Event] = []
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
    _write(collected)


def _write(events: list[Event]) -> None:
    """An event nobody subscribes to is complete at once."""
    if not events:
        return
    now = timezone.now()
    for item in events:
        item.occurred_at = now
        if not subscribers_of(item.type):
            item.completed_at = now
    created = Event.objects.bulk_create(events)
    pending = [
        (item.organization_id, item.pk, item.stream, item.type)
        for item in created
        if item.completed_at is None
    ]
    if pending:
        transaction.on_commit(partial(dispatch, pending))


def dispatch(events: Iterable[tuple[int, int, str, str]]) -> int:
    """Runs after commit: one task per (stream, subscriber), for the stream's newest event
    (a delivery brings the earlier ones of its stream along); returns how many were sent."""
    newest: dict[tuple[int, str, str], int] = {}
    for organization_id, event_id, stream, event_type in events:
        for subscriber in subscribers_of(event_type):
            key = (organization_id, stream, subscriber)
            newest[key] = max(newest.get(key, 0), event_id)
    return tasks.dispatch_to(
        (organization_id, event_id, subscriber)
        for (organization_id, _, subscriber), event_id in newest.items()
    )
