"""Sending the outbox. Tasks take ids and may run twice or at once: a delivery is sent
only by whoever takes it while it is due (:mod:`notifications.services.deliveries`)."""

from __future__ import annotations

from celery import shared_task

from notifications.services import deliveries
from tenancy import sweeps


@shared_task(name="notifications.tasks.sweep", soft_time_limit=20, time_limit=30)
def sweep() -> list[int]:
    """Every 10 s (beat): the due deliveries of each active organization (retries, and
    sends whose message to the broker was lost)."""
    return sweeps.fan_out(send_due)


@shared_task(
    name="notifications.tasks.send_due",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=20,
    time_limit=30,
)
def send_due(organization_id: int) -> int:
    """A task per due delivery of the organization, so one slow endpoint holds up no other."""
    due = deliveries.due_ids(organization_id)
    for delivery_id in due:
        send.apply_async((organization_id, delivery_id), **deliveries.send_limits())
    return len(due)


@shared_task(
    name="notifications.tasks.send",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=30,  # the default; send_due gives the limits of the lease
    time_limit=35,
)
def send(organization_id: int, delivery_id: int) -> str | None:
    return deliveries.delivery_send(organization_id=organization_id, delivery_id=delivery_id)
