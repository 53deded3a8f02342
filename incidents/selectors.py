"""Reads, each starting from the organization and the reader's role."""

from __future__ import annotations

from django.db.models import Q

from incidents.models import Incident, TimelineEntry
from incidents.roles import WORK_INCIDENTS
from tenancy.models import Membership, Role
from tenancy.roles import roles_with_perm


def incidents_visible(*, organization, user, role: str):
    """Reporters see the incidents they reported; every other role sees them all."""
    incidents = Incident.objects.for_org(organization).select_related(
        "category", "service", "team", "assignee", "reporter", "commander", "comms_lead"
    )
    if role == Role.REPORTER:
        if getattr(user, "pk", None) is None:
            return incidents.none()  # a reporter key has nobody to have reported anything
        incidents = incidents.filter(reporter_id=user.pk)
    return incidents


def satisfaction_visible(*, user, incident) -> bool:
    """The reporter's satisfaction score and comment: responders and up read them, and the
    reporter their own; stakeholders do not."""
    if user.has_perm("incidents.change_incident", incident):
        return True
    return getattr(user, "pk", None) is not None and user.pk == incident.reporter_id


def incident_workers(*, organization) -> list:
    """The members who may be an incident's assignee, commander or comms lead, by username."""
    memberships = (
        Membership.objects.for_org(organization)
        .filter(role__in=roles_with_perm(WORK_INCIDENTS))
        .select_related("user")
        .order_by("user__username")
    )
    return [membership.user for membership in memberships]


def incident_search(incidents, q: str):
    q = q.strip()
    if not q:
        return incidents
    match = Q(title__icontains=q) | Q(description__icontains=q)
    number = q.upper().removeprefix("INC-")
    if number.isdigit() and len(number) < 10:
        match |= Q(number=int(number))
    return incidents.filter(match)


def timeline_visible(*, organization, incident, role: str):
    """Reporters and stakeholders see the public entries; responders see everything."""
    entries = TimelineEntry.objects.for_org(organization).filter(incident=incident)
    if role in (Role.REPORTER, Role.STAKEHOLDER):
        entries = entries.filter(is_public=True)
    return entries.select_related("actor").order_by("created_at", "id")
