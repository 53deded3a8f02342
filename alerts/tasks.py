"""Background work of alert ingestion. Tasks take ids, not objects, and are idempotent."""

from __future__ import annotations

from celery import shared_task

from alerts import services
from alerts.models import Alert
from tenancy import rls
from tenancy.sweeps import fan_out


@shared_task(name="alerts.tasks.apply_pending", time_limit=60, soft_time_limit=50)
def apply_pending() -> list[int]:
    """Sends :func:`apply_pending_organization` for each active organization. A
    deactivated organization's alerts wait: they were accepted while it was active and are
    applied if it is reactivated."""
    return fan_out(apply_pending_organization)


@shared_task(name="alerts.tasks.apply_pending_organization", time_limit=300, soft_time_limit=270)
def apply_pending_organization(organization_id: int) -> int:
    """Applies the organization's alerts left pending: a request applies what it stored
    right after committing it, so this only finds the alerts of a request that died between
    the two (or whose apply failed). Returns how many it applied; with none pending, it
    does nothing."""
    with rls.tenant_context(organization_id):
        waiting = (
            Alert.objects.for_org(organization_id).filter(outcome=Alert.Outcome.PENDING).exists()
        )
    if not waiting:
        return 0
    # Whoever holds the lock applies them anyway: no need to queue behind it.
    return len(services.apply_pending(organization_id, wait=1.0))
