"""Portal pages for services, under /o/<org>/services/: the catalog with each service's
health, and a service's page with its open incidents, recent changes and, for admins, its
integrations with their keys, ingestion URLs and examples to copy into the sending tool.

An integration's key is the whole credential, so only principals with
``incidents.view_integration`` (admins and owners) ever see it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from alerts.models import ChangeEvent
from incidents.models import Integration, Service
from incidents.selectors import incidents_visible
from tenancy.access import org_member_required
from tenancy.models import Role

app_name = "services"

Kind = Integration.Kind
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
        "shows_keys": user.has_perm("incidents.view_integration", service),
        # Reporters follow their own incidents; how alerts arrive is none of their concern.
        "shows_integrations": user.has_perm("incidents.view_integration", service)
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
                {"integration": integration, "setup": setup_for(request, integration)}
                for integration in integrations
            ]
        else:
            context["integrations"] = [{"integration": i} for i in integrations]
    return render(request, "alerts/service_detail.html", context)


# Setup instructions per kind ---------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    title: str
    text: str


@dataclass(frozen=True)
class Setup:
    urls: list[tuple[str, str]]  # (label, absolute URL)
    examples: list[Example]


def _url(request, name: str, **kwargs) -> str:
    return request.build_absolute_uri(reverse(name, kwargs=kwargs or None))


def _curl(url: str, body: dict, *headers: str) -> str:
    lines = [f"curl -sS -X POST {shlex.quote(url)}", "  -H 'Content-Type: application/json'"]
    lines += [f"  -H {shlex.quote(header)}" for header in headers]
    lines.append(f"  -d {shlex.quote(json.dumps(body, indent=2))}")
    return " \\\n".join(lines)


def example_bodies(integration: Integration) -> dict[str, dict]:
    """The JSON bodies the examples send, by route name (the tests post them for real)."""
    key = integration.key
    if integration.kind == Kind.PAGERDUTY:
        return {
            "pagerduty-enqueue": {
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": "disk-full-db-1",
                "payload": {
                    "summary": "Disk 95% full on db-1",
                    "source": "db-1.example.com",
                    "severity": "critical",
                },
            },
            "pagerduty-change": {
                "routing_key": key,
                "payload": {
                    "summary": "Deployed release 2024.06.1",
                    "source": "ci.example.com",
                },
            },
        }
    if integration.kind == Kind.ALERTMANAGER:
        labels = {"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical"}
        return {
            "alertmanager": {
                "version": "4",
                "groupKey": '{}:{alertname="DiskFull"}',
                "status": "firing",
                "receiver": "beacon",
                "groupLabels": {"alertname": "DiskFull"},
                "commonLabels": labels,
                "commonAnnotations": {"summary": "Disk 95% full on db-1"},
                "externalURL": "http://alertmanager.example.com:9093",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": labels,
                        "annotations": {"summary": "Disk 95% full on db-1"},
                        "startsAt": "2024-06-01T12:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": "a1b2c3d4e5f60718",
                    }
                ],
            }
        }
    if integration.kind == Kind.OPSGENIE:
        return {
            "opsgenie-create": {
                "message": "Disk 95% full on db-1",
                "alias": "disk-full-db-1",
                "priority": "P1",
            }
        }
    return {
        "generic": {
            "action": "trigger",
            "dedup_key": "disk-full-db-1",
            "summary": "Disk 95% full on db-1",
            "severity": "critical",
            "source": "db-1.example.com",
            "details": {"used_percent": 95, "mount": "/var/lib/postgresql"},
        }
    }


def setup_for(request, integration: Integration) -> Setup:
    """The URLs to configure in the sending tool, and examples to try them with."""
    key = integration.key
    bodies = example_bodies(integration)
    if integration.kind == Kind.PAGERDUTY:
        alerts, changes = _url(request, "pagerduty-enqueue"), _url(request, "pagerduty-change")
        return Setup(
            urls=[("Events API v2", alerts), ("Change events", changes)],
            examples=[
                Example("Trigger an alert", _curl(alerts, bodies["pagerduty-enqueue"])),
                Example("Record a change", _curl(changes, bodies["pagerduty-change"])),
            ],
        )
    if integration.kind == Kind.ALERTMANAGER:
        url = _url(request, "alertmanager", key=key)
        receiver = "\n".join(
            [
                "route:",
                "  receiver: beacon",
                "receivers:",
                "  - name: beacon",
                "    webhook_configs:",
                f"      - url: {json.dumps(url)}",
                "        send_resolved: true",
            ]
        )
        return Setup(
            urls=[("Webhook", url)],
            examples=[
                Example("alertmanager.yml", receiver),
                Example("Send a test notification", _curl(url, bodies["alertmanager"])),
            ],
        )
    if integration.kind == Kind.OPSGENIE:
        url = _url(request, "opsgenie-create")
        host = request.build_absolute_uri("/").rstrip("/")
        return Setup(
            urls=[("Alert API", url), ("API host (for Opsgenie's client libraries)", host)],
            examples=[
                Example(
                    "Create an alert",
                    _curl(url, bodies["opsgenie-create"], f"Authorization: GenieKey {key}"),
                )
            ],
        )
    url = _url(request, "generic", key=key)
    return Setup(
        urls=[("Webhook", url)],
        examples=[Example("Trigger an alert", _curl(url, bodies["generic"]))],
    )


urlpatterns = [
    path("o/<slug:org>/services/", service_list, name="list"),
    path("o/<slug:org>/services/<slug:service>/", service_detail, name="detail"),
]
