"""Event delivery tasks. They take ids; running one twice does nothing the second time."""

from __future__ import annotations

from celery import shared_task

from events import delivery
from tenancy import sweeps


@shared_task(
    name="events.tasks.deliver",
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
    soft_time_limit=100,
    time_limit=120,
)
def deliver(organization_id: int, event_id: int, subscriber: str) -> int:
    """Runs one subscriber for one event (and the earlier ones of its stream it missed)."""
    return delivery.deliver(organization_id, event_id, subscriber)


@shared_task(name="events.tasks.sweep", soft_time_limit=50, time_limit=60)
def sweep() -> list[int]:
    """Periodic: one sweep task per active organization."""
    return sweeps.fan_out(sweep_organization)


@shared_task(name="events.tasks.sweep_organization", soft_time_limit=50, time_limit=60)
def sweep_organization(organization_id: int) -> int:
    """Sends again what one organization's lost dispatches never delivered."""
    return delivery.sweep_organization(organization_id)


@shared_task(name="events.tasks.purge", soft_time_limit=50, time_limit=60)
def purge() -> list[int]:
    """Daily: one purge task per organization (inactive ones too: their events age out)."""
    return sweeps.fan_out(purge_organization, inactive_too=True)


@shared_task(name="events.tasks.purge_organization", soft_time_limit=240, time_limit=300)
def purge_organization(organization_id: int) -> int:
    return delivery.purge_organization(organization_id)
