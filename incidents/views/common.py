"""What the incident pages share: the incidents a member may see, the lists the pickers
offer, the live-update poll and its times."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone

from incidents import timeline
from incidents.models import Incident, Service
from incidents.selectors import incidents_visible, timeline_visible
from tenancy.models import Team


def visible_incidents(request):
    """The incidents the request's member may see (reporters: the ones they reported)."""
    return incidents_visible(
        organization=request.organization, user=request.user, role=request.role
    )


def incident_or_404(request, number: int) -> Incident:
    """Another organization's number, or another reporter's incident: the same 404."""
    return get_object_or_404(visible_incidents(request), number=number)


def timeline_entries(request, incident) -> list:
    """The timeline entries the member may see, each with its ``summary``."""
    return timeline.describe_all(
        request.organization,
        list(
            timeline_visible(
                organization=request.organization, incident=incident, role=request.role
            )
        ),
    )


def teams_of(organization) -> list[Team]:
    return list(Team.objects.for_org(organization).order_by("name"))


def services_of(organization) -> list[Service]:
    return list(Service.objects.for_org(organization).order_by("name"))


def poll_seconds() -> int:
    return getattr(settings, "BEACON_LIVE_POLL_SECONDS", 10)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime | None:
    value = value.strip().replace(" ", "+")[:64]  # a "+" that arrived unencoded
    try:
        moment = datetime.fromisoformat(value)
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)  # out of range once in UTC (year 1 east of it)
    except (ValueError, OverflowError):
        return None
