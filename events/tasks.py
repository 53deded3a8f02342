"""Event delivery tasks. They take ids; running one twice does nothing the second time."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import shared_task
from kombu.exceptions import OperationalError

from events import delivery
from tenancy import sweeps

log = logging.getLogger(__name__)


@shared_task(
    name="events.tasks.deliver",
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=4,  # then the sweep sends it again, further and further apart
    soft_time_limit=100,
    time_limit=120,
)
def deliver(organization_id: int, event_id: int, subscriber: str) -> int:
    """Runs one subscriber for one event (and the earlier ones of its stream it missed);
    a long backlog continues in a fresh task once this one has committed its part."""
    ran, more = delivery.deliver(organization_id, event_id, subscriber)
    if more:
        deliver.delay(organization_id, event_id, subscriber)
    return ran


def dispatch_to(deliveries: Iterable[tuple[int, int, str]]) -> int:
    """Sends a task per (organization, event, subscriber); returns how many were sent.

    A broker that cannot be reached loses nothing: the events stay pending in the
    database and the sweep sends them later, so this logs and stops.
    """
    sent = 0
    try:
        # One producer (and broker connection) from the pool for the lot.
        with deliver.app.producer_or_acquire() as producer:
            for organization_id, event_id, subscriber in deliveries:
                deliver.apply_async(
                    (organization_id, event_id, subscriber),
                    producer=producer,
                    retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
                )
                sent += 1
    except (OperationalError, OSError):
        log.warning(
            "events not dispatched after the first %d; the sweep will send them",
            sent,
            exc_info=True,
        )
    return sent


@shared_task(name="events.tasks.sweep", soft_time_limit=50, time_limit=60)
def sweep() -> list[int]:
    """Periodic: one sweep task per active organization."""
    return sweeps.fan_out(sweep_organization)


@shared_task(name="events.tasks.sweep_organization", soft_time_limit=50, time_limit=60)
def sweep_organization(organization_id: int) -> int:
    """Sends again what one organization's lost dispatches never delivered."""
    sent = dispatch_to(delivery.lost_deliveries(organization_id))
    if sent:
        log.info("sweep sent %d deliveries of organization %s", sent, organization_id)
    return sent


@shared_task(name="events.tasks.purge", soft_time_limit=50, time_limit=60)
def purge() -> list[int]:
    """Daily: one purge task per organization (inactive ones too: their events age out)."""
    return sweeps.fan_out(purge_organization, inactive_too=True)


@shared_task(name="events.tasks.purge_organization", soft_time_limit=240, time_limit=300)
def purge_organization(organization_id: int) -> int:
    return delivery.purge_organization(organization_id)
