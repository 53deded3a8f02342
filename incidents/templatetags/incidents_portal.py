"""Template helpers for the incident pages: labels, timeline summaries, the home card."""

from __future__ import annotations

from django import template

from incidents import timeline
from incidents.models import TimelineEntry

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
