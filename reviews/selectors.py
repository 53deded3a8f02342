"""Reads, each starting from the organization and the reader's role."""

from __future__ import annotations

from reviews.models import PostIncidentReview
from tenancy.models import Role


def reviews_visible(*, organization, role: str):
    """Stakeholders read published reviews only; drafts stay with the responders.

    Reporters are kept out by permission (they never reach this query)."""
    reviews = PostIncidentReview.objects.for_org(organization)
    if role in (Role.REPORTER, Role.STAKEHOLDER):
        reviews = reviews.filter(status=PostIncidentReview.State.PUBLISHED)
    return reviews
