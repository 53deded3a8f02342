"""Periodic sweeps fan out: one short task per organization.

A sweep's dispatcher lists the organizations, the only read across tenants a task makes,
and sends each one its own task. That task takes the organization's id, works inside its
``tenant_context`` and is idempotent, so a large organization holds up no other, a task
lost with its worker is re-delivered for its organization alone, and each stays well
inside its time limit.
"""

from __future__ import annotations

from tenancy.models import Organization


def fan_out(task, *, inactive_too: bool = False) -> list[int]:
    """Sends ``task(organization_id)`` for each active organization (each organization
    with ``inactive_too``), in id order; returns the ids it sent."""
    organizations = Organization.objects.all() if inactive_too else Organization.objects.active()
    sent = list(organizations.order_by("pk").values_list("pk", flat=True))
    for organization_id in sent:
        task.delay(organization_id)
    return sent
