"""Notifications in the portal: retrying a delivery from the incident page's panel."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from core.errors import DomainError
from incidents.views.common import incident_or_404
from notifications.models import Delivery
from notifications.services import deliveries
from tenancy.access import org_member_required

app_name = "notifications"


@org_member_required
@require_POST
def delivery_retry(request, number: int, delivery: int):
    incident = incident_or_404(request, number)
    if not request.user.has_perm("notifications.change_delivery", request.organization):
        raise PermissionDenied
    delivery = get_object_or_404(
        Delivery.objects.for_org(request.organization).filter(incident=incident), pk=delivery
    )
    try:
        deliveries.delivery_retry(
            organization=request.organization, actor=request.user, delivery=delivery
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Sending {delivery} again.")
    url = reverse("incidents:detail", args=[request.organization.slug, incident.number])
    return redirect(url + "#notifications")


urlpatterns = [
    path(
        "o/<slug:org>/incidents/<int:number>/deliveries/<int:delivery>/retry/",
        delivery_retry,
        name="retry",
    ),
]
