"""Background work of alert ingestion. Tasks take ids, not objects, and are idempotent."""

from __future__ import annotations

from celery import shared_task

from alerts import services
from alerts.models import Alert
from tenancy import rls


@shared_task(name="alerts.tasks.apply_pending", time_limit=300, soft_time_limit=270)
def apply_pending() -> int:
    """Applies alerts left pending, organization by organization: a request applies what it
    stored right after committing it, so this only finds the alerts of a request that died
    between the two (or whose apply failed). A deactivated organization's alerts wait:
    they were accepted while it was active and are applied if it is reactivated. Returns
    how many it applied."""
    from tenancy.models import Organization

    applied = 0
    organizations = Organization.objects.active().order_by("pk")
    for organization_id in organizations.values_list("pk", flat=True):
        with rls.tenant_context(organization_id):
            waiting = (
                Alert.objects.for_org(organization_id)
                .filter(outcome=Alert.Outcome.PENDING)
                .exists()
            )
        if waiting:
            # Whoever holds the lock applies them anyway: no need to queue behind it.
            applied += len(services.apply_pending(organization_id, wait=1.0))
    return applied
