"""Which event types exist and who subscribes to them (filled at import and in
``AppConfig.ready``; the same in every process that runs the same code)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from events.models import Event


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
