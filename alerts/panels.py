"""What alerts show on pages of other apps, registered in ``AlertsConfig.ready``."""

from __future__ import annotations

from django.db.models import Count, Window

from alerts.models import Alert, AlertGroup
from incidents.models import Incident

ALERTS_SHOWN = 50


def incident_alerts(request, incident):
    """The incident page's alerts panel: the newest alerts and how many there are, in one
    query; None when the reader may not read alerts (reporters) or the incident has no
    alerts and no alert opened it."""
    if not request.user.has_perm("alerts.view_alert", incident):
        return None
    alerts = list(
        Alert.objects.for_org(incident.organization_id)
        .filter(incident=incident)
        .select_related("integration")
        # The total rides along on every row: no second COUNT(*) query.
        .annotate(total=Window(Count("pk")))
        .order_by("-received_at", "-id")[:ALERTS_SHOWN]
    )
    if not alerts and not _opened_by_an_alert(incident):
        return None
    total = alerts[0].total if alerts else 0
    return {"alerts": alerts, "total": total, "more": total - len(alerts)}


def _opened_by_an_alert(incident) -> bool:
    """Only an incident whose source is an alert can have an alert group: the others cost
    no query."""
    return (
        incident.source == Incident.Source.ALERT
        and AlertGroup.objects.for_org(incident.organization_id).filter(incident=incident).exists()
    )
