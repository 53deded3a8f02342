"""The incident lifecycle (ITIL and SRE): states and the transitions between them."""

from django.db import models


class Status(models.TextChoices):
    NEW = "new", "New"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.NEW: (
        Status.ACKNOWLEDGED,
        Status.IN_PROGRESS,
        Status.ON_HOLD,
        Status.RESOLVED,
        Status.CANCELLED,
    ),
    Status.ACKNOWLEDGED: (Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED, Status.CANCELLED),
    Status.IN_PROGRESS: (Status.ON_HOLD, Status.RESOLVED, Status.CANCELLED),
    Status.ON_HOLD: (Status.IN_PROGRESS, Status.RESOLVED, Status.CANCELLED),
    Status.RESOLVED: (Status.CLOSED, Status.IN_PROGRESS),
    Status.CLOSED: (),
    Status.CANCELLED: (),
}

OPEN_STATES = (Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.ON_HOLD)
TERMINAL_STATES = (Status.CLOSED, Status.CANCELLED)


def allowed_targets(status: str) -> tuple[str, ...]:
    return TRANSITIONS[Status(status)]


def can_transition(source: str, target: str) -> bool:
    return target in allowed_targets(source)
