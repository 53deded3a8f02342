"""Periodic incident work. Each sweep is a dispatcher that sends one task per organization
(:func:`tenancy.sweeps.fan_out`); those take the organization's id, run inside its
``tenant_context`` and are idempotent: a repeated run finds nothing left to do."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from incidents import services, sla_policy
from incidents.api.idempotency import TTL
from incidents.models import IdempotencyKey
from tenancy import rls
from tenancy.sweeps import fan_out

# A dispatcher only lists organizations and sends a message for each.
DISPATCH_LIMITS = {"time_limit": 60, "soft_time_limit": 50}


@shared_task(name="incidents.tasks.auto_close", **DISPATCH_LIMITS)
def auto_close() -> list[int]:
    """Sends :func:`auto_close_organization` for each active organization."""
    return fan_out(auto_close_organization)


@shared_task(name="incidents.tasks.auto_close_organization", time_limit=300, soft_time_limit=270)
def auto_close_organization(organization_id: int) -> int:
    """Closes the organization's resolved incidents its reporters left unanswered; returns
    how many. A closed incident is no longer picked, so a repeated run closes nothing."""
    return services.auto_close_resolved(organization_id=organization_id)


@shared_task(name="incidents.tasks.purge_idempotency_keys", **DISPATCH_LIMITS)
def purge_idempotency_keys() -> list[int]:
    """Sends :func:`purge_idempotency_keys_organization` for every organization, inactive
    ones too: their keys are of no use either."""
    return fan_out(purge_idempotency_keys_organization, inactive_too=True)


@shared_task(
    name="incidents.tasks.purge_idempotency_keys_organization",
    time_limit=120,
    soft_time_limit=100,
)
def purge_idempotency_keys_organization(organization_id: int) -> int:
    """Deletes the organization's Idempotency-Keys past their 24 hours (a reused key
    replaces its own old row anyway; this keeps keys nobody reuses from piling up)."""
    with rls.tenant_context(organization_id):
        deleted, _ = (
            IdempotencyKey.objects.for_org(organization_id)
            .filter(created_at__lt=timezone.now() - TTL)
            .delete()
        )
    return deleted


@shared_task(name="incidents.tasks.sla_check", **DISPATCH_LIMITS)
def sla_check() -> list[int]:
    """Sends :func:`sla_check_organization` for each active organization."""
    return fan_out(sla_check_organization)


@shared_task(name="incidents.tasks.sla_check_organization", time_limit=120, soft_time_limit=100)
def sla_check_organization(organization_id: int) -> int:
    """Marks SLA breaches of the organization's open incidents whose due time passed
    (``SELECT … FOR UPDATE SKIP LOCKED`` batches); returns how many incidents it marked. A
    recorded breach is not marked again."""
    return sla_policy.check_organization(organization_id)
