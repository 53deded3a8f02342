"""Template helpers that put alert data on pages of other apps.

The incident page loads this library (``{% load alerts_portal %}``) rather than its view
importing the alerts app: incidents stay unaware of alerts in Python, as the layering
requires, and the page depends on them only through its template.
"""

from __future__ import annotations

import json

from django import template
from django.db.models import Count, Window

from alerts.models import Alert, AlertGroup
from incidents.models import Incident

register = template.Library()

ALERTS_SHOWN = 50


@register.simple_tag
def incident_alerts(incident, user):
    """``{% incident_alerts incident request.user as panel %}``: the incident's newest
    alerts and how many there are, in one query; None when the user may not read alerts
    (reporters) or the incident has no alerts and no alert opened it."""
    if not user.has_perm("alerts.view_alert", incident):
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


@register.filter
def pretty_json(value) -> str:
    """Indented JSON for a <pre> (the template escapes it like any other text)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
