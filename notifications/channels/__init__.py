"""The ways a delivery leaves Beacon, a module per channel behind one interface:
``send(delivery) -> Outcome``, and ``unusable(delivery) -> str`` (why it can no longer be
sent, "" when it can). :mod:`notifications.services.deliveries` takes, records and tries
again; a channel only sends once and says what came of it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta


@dataclasses.dataclass(frozen=True)
class Outcome:
    what: str  # "done" | "retry" | "stop" | "gone" (stop, and the recipient is no more)
    why: str = ""
    retry_after: timedelta | None = None
    status_code: int | None = None
    response: str = ""  # the start of the answer
    duration_ms: int = 0


def channel(name: str):
    from notifications.channels import email, webhook

    return {"webhook": webhook, "email": email}[name]
