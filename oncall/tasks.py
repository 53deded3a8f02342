"""On-call's periodic work: the escalation tick, one task per organization. Tasks take
ids and may run twice or at once: the tick takes only due rows nobody holds."""

from __future__ import annotations

import logging

from celery import shared_task

from oncall.services import escalations
from tenancy import sweeps

log = logging.getLogger(__name__)


@shared_task(
    name="oncall.tasks.tick",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=20,
    time_limit=30,
)
def tick() -> list[int]:
    """Every 5 s (beat): one tick per active organization."""
    return sweeps.fan_out(tick_organization)


@shared_task(
    name="oncall.tasks.tick_organization",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=50,
    time_limit=60,
)
def tick_organization(organization_id: int) -> int:
    """Pages the organization's due escalation steps; returns how many it advanced."""
    advanced = escalations.escalations_tick(organization_id=organization_id)
    if advanced:
        log.info("advanced %d escalations of organization %s", advanced, organization_id)
    return advanced
