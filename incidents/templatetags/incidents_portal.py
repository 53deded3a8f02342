"""Template helpers for the incident pages: labels, timeline summaries, the home card."""

from __future__ import annotations

from django import template

from incidents import timeline
from incidents.models import TimelineEntry
from incidents.selectors import incidents_visible
from tenancy.models import Role

register = template.Library()


@register.filter
def has_org_perm(request, perm: str) -> bool:
    """``request|has_org_perm:"incidents.add_incident"``: in the request's organization."""
    organization = getattr(request, "organization", None)
    return organization is not None and request.user.has_perm(perm, organization)


@register.filter
def entry_summary(entry: TimelineEntry) -> str:
    """What the entry records, in words after the actor's name (escaped by the template).

    Views describe their entries at once (:func:`incidents.timeline.describe_all`), so
    people are named by one query; an entry not described yet is described alone."""
    summary = getattr(entry, "summary", None)
    return summary if summary is not None else timeline.describe(entry)


@register.filter
def entry_actor(entry: TimelineEntry) -> str:
    return timeline.actor_name(entry)


@register.inclusion_tag("incidents/_home_card.html", takes_context=True)
def incident_card(context):
    """Open incidents (for roles that see them all) and the user's own open reports."""
    request = context["request"]
    organization, user, role = request.organization, request.user, request.role
    open_incidents = incidents_visible(organization=organization, user=user, role=role).open()
    return {
        "current_organization": organization,
        "sees_all": role != Role.REPORTER,
        "open_count": open_incidents.count() if role != Role.REPORTER else None,
        "mine_open_count": open_incidents.filter(reporter_id=user.pk).count(),
        "can_report": user.has_perm("incidents.add_incident", organization),
    }
