"""Periodic incident work. Tasks take ids, not objects, and are idempotent."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from incidents import services


@shared_task(name="incidents.tasks.auto_close", time_limit=600, soft_time_limit=540)
def auto_close() -> int:
    """Closes resolved incidents the reporter left unanswered, organization by organization.

    Listing the organizations is the only cross-tenant read; everything else runs inside
    each organization's own ``tenant_context``.
    """
    from tenancy.models import Organization

    closed = 0
    for organization_id in (
        Organization.objects.active().order_by("pk").values_list("pk", flat=True)
    ):
        closed += services.auto_close_resolved(organization_id=organization_id)
    return closed


@shared_task(name="incidents.tasks.purge_idempotency_keys", time_limit=300, soft_time_limit=270)
def purge_idempotency_keys() -> int:
    """Deletes Idempotency-Keys past their 24 hours (a reused key replaces its own old row
    anyway; this keeps keys nobody reuses from piling up)."""
    from incidents.api.idempotency import TTL
    from incidents.models import IdempotencyKey
    from tenancy import rls
    from tenancy.models import Organization

    moment = timezone.now()
    deleted = 0
    for organization_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        with rls.tenant_context(organization_id):
            count, _ = (
                IdempotencyKey.objects.for_org(organization_id)
                .filter(created_at__lt=moment - TTL)
                .delete()
            )
        deleted += count
    return deleted


# --- SLA ---


@shared_task(name="incidents.tasks.sla_check", time_limit=300, soft_time_limit=270)
def sla_check() -> int:
    """Marks SLA breaches of open incidents whose due time passed, organization by
    organization (``SELECT … FOR UPDATE SKIP LOCKED`` batches in each ``tenant_context``).
    Idempotent: a recorded breach is not marked again."""
    from incidents import sla_policy
    from tenancy.models import Organization

    marked = 0
    for organization_id in (
        Organization.objects.active().order_by("pk").values_list("pk", flat=True)
    ):
        marked += sla_policy.check_organization(organization_id)
    return marked
