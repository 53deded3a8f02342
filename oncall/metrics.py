"""On-call's metrics on /metrics.

``beacon_oncall_pages_created_total`` and ``beacon_oncall_escalations_advanced_total``
count in the process that does the work (a worker writes them to the multiprocess
directory when it has one). ``beacon_oncall_escalation_lag_seconds`` is read from the
database at scrape time: how long the oldest due escalation has waited for a tick, 0 when
none is due. It reads across organizations, the one read here that does, so it sets the
tenant to every active organization for its one query."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from oncall.models import Escalation
from tenancy import rls
from tenancy.models import Organization

PAGES_CREATED = Counter(
    "beacon_oncall_pages_created", "Pages written, by escalation steps and by responders."
)
ESCALATIONS_ADVANCED = Counter(
    "beacon_oncall_escalations_advanced", "Escalation steps paged (each tick of an escalation)."
)


def count_after_commit(*, pages: int = 0, advanced: int = 0) -> None:
    """Counts what the current transaction did, once it has committed."""

    def count():
        if pages:
            PAGES_CREATED.inc(pages)
        if advanced:
            ESCALATIONS_ADVANCED.inc(advanced)

    transaction.on_commit(count)


def escalation_lag() -> float:
    """Seconds the oldest due escalation is overdue (0 when nothing is due)."""
    now = timezone.now()
    with transaction.atomic():
        organizations = list(Organization.objects.active().values_list("pk", flat=True))
        rls.set_tenant(organizations)
        oldest = (
            Escalation.objects.for_orgs(organizations)
            .filter(state=Escalation.State.ACTIVE, next_escalation_at__lte=now)
            .aggregate(oldest=Min("next_escalation_at"))
            .get("oldest")
        )
    return 0.0 if oldest is None else (now - oldest).total_seconds()


class EscalationLagCollector:
    @staticmethod
    def _family():
        return GaugeMetricFamily(
            "beacon_oncall_escalation_lag_seconds",
            "Seconds the oldest due escalation has waited for a tick (0: none due).",
        )

    def describe(self):
        yield self._family()

    def collect(self):
        family = self._family()
        try:
            family.add_metric([], escalation_lag())
        except Exception:  # the scrape must not fail with the database
            return
        yield family
