"""Portal pages for services, under /o/<org>/services/: the catalog with each service's
health, and a service's page with its open incidents, recent changes and, for admins, its
integrations with their keys, ingestion URLs and examples to copy into the sending tool
(each kind's module in :mod:`alerts.kinds` makes its own).

An integration's key is the whole credential, so only principals with
``alerts.view_integration`` (admins and owners) ever see it.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from alerts import kinds
from alerts.models import ChangeEvent, Integration
from incidents.models import Service
from incidents.selectors import incidents_visible
from tenancy.access import org_member_required
from tenancy.models import Role

app_name = "services"

OPEN_INCIDENTS_SHOWN = 50
CHANGES_SHOWN = 20


def _count(queryset) -> Coalesce:
    """COUNT(*) of ``queryset`` (already correlated to the outer service) as a subquery."""
    counted = queryset.order_by().values("service").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _visible(request):
    return incidents_visible(
        organization=request.organization, user=request.user, role=request.role
    )


@org_member_required
@require_GET
def service_list(request):
    """Every service of the organization, in one query however many there are."""
    organization = request.organization
    if not request.user.has_perm("incidents.view_service", organization):
        raise PermissionDenied
    services = (
        Service.objects.for_org(organization)
        .select_related("team")
        .annotate(
            open_count=_count(_visible(request).open().filter(service=OuterRef("pk"))),
            integration_count=_count(
                Integration.objects.for_org(organization).filter(service=OuterRef("pk"))
            ),
        )
        .order_by("name", "pk")
    )
    return render(
        request,
        "alerts/service_list.html",
        {"services": list(services), "own_only": request.role == Role.REPORTER},
    )


@org_member_required
@require_GET
@never_cache  # admins read integration keys here: no cache keeps a copy
def service_detail(request, service: str):
    organization = request.organization
    user = request.user
    service = get_object_or_404(
        Service.objects.for_org(organization).select_related("team"), slug=service
    )
    if not user.has_perm("incidents.view_service", service):
        raise PermissionDenied
    open_incidents = list(
        _visible(request)
        .open()
        .filter(service=service)
        .order_by("-created_at", "-id")[: OPEN_INCIDENTS_SHOWN + 1]
    )
    context = {
        "service": service,
        "open_incidents": open_incidents[:OPEN_INCIDENTS_SHOWN],
        "more_open": len(open_incidents) > OPEN_INCIDENTS_SHOWN,
        "own_only": request.role == Role.REPORTER,
        "queue_url": None
        if request.role == Role.REPORTER
        else reverse("incidents:queue", kwargs={"org": organization.slug})
        + f"?service={service.pk}",
        "shows_changes": user.has_perm("alerts.view_changeevent", service),
        "shows_keys": user.has_perm("alerts.view_integration", service),
        # Reporters follow their own incidents; how alerts arrive is none of their concern.
        "shows_integrations": user.has_perm("alerts.view_integration", service)
        or user.has_perm("alerts.view_alert", service),
    }
    if context["shows_changes"]:
        context["changes"] = list(
            ChangeEvent.objects.for_org(organization)
            .filter(service=service)
            .select_related("integration")
            .order_by("-timestamp", "-id")[:CHANGES_SHOWN]
        )
    if context["shows_integrations"]:
        integrations = list(
            Integration.objects.for_org(organization).filter(service=service).order_by("name")
        )
        if context["shows_keys"]:
            context["integrations"] = [
                {
                    "integration": integration,
                    "setup": kinds.of(integration).setup(request, integration),
                }
                for integration in integrations
            ]
        else:
            context["integrations"] = [{"integration": i} for i in integrations]
    return render(request, "alerts/service_detail.html", context)


urlpatterns = [
    path("o/<slug:org>/services/", service_list, name="list"),
    path("o/<slug:org>/services/<slug:service>/", service_detail, name="detail"),
]
