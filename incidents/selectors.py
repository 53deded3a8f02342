"""Reads, each starting from the organization and the reader's role."""

from __future__ import annotations

from django.db.models import Q

from incidents import rules
from incidents.models import Attachment, Incident, SavedView, TimelineEntry
from tenancy.models import Membership, Role


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


def incident_workers(*, organization) -> list:
    """The members who may be an incident's assignee, commander or comms lead, by username."""
    memberships = (
        Membership.objects.for_org(organization)
        .filter(role__in=rules.working_roles())
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


def member_users(*, organization) -> list:
    """Every member's user, by username (the portal's pickers of people)."""
    return [
        membership.user
        for membership in Membership.objects.for_org(organization)
        .select_related("user")
        .order_by("user__username")
    ]


def attachments_of(*, organization, incident) -> list[Attachment]:
    """The incident's attachments, oldest first, with who uploaded them (one query)."""
    return list(
        Attachment.objects.for_org(organization)
        .filter(incident=incident)
        .select_related("uploaded_by")
        .order_by("created_at", "id")
    )


def saved_views_of(*, organization, user):
    """The user's own saved queue views in the organization, by name (one query)."""
    return SavedView.objects.for_org(organization).filter(owner=user).order_by("name")
