"""The incident page's panel of notifications: what the outbox sent about the incident,
to whom, and each attempt."""

from __future__ import annotations

from django.db.models import Prefetch

from notifications.models import Attempt, Delivery

SHOWN = 20


def incident_deliveries(request, incident):
    """None for those who may not see deliveries, or when nothing was sent."""
    organization = request.organization
    if not request.user.has_perm("notifications.view_delivery", organization):
        return None
    sent = list(
        Delivery.objects.for_org(organization)
        .filter(incident=incident)
        .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("number")))
        .order_by("-created_at", "-id")[:SHOWN]
    )
    if not sent:
        return None
    return {
        "deliveries": sent,
        "can_retry": request.user.has_perm("notifications.change_delivery", organization),
    }
