"""Demo data: a published post-incident review with its action items."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.models import Incident
from incidents.states import Status
from reviews import services


def seed(*, organization, users, stdout) -> None:
    """acme: a published review with two action items for its closed incident."""
    if organization.slug != "acme":
        return
    incident = (
        Incident.objects.for_org(organization)
        .filter(status=Status.CLOSED)
        .order_by("number")
        .first()
    )
    if incident is None:
        return
    actor = users.get("carol")
    owner = users.get("bob") or actor
    review = services.review_create(organization=organization, actor=actor, incident=incident)
    services.review_update(
        organization=organization,
        actor=actor,
        review=review,
        owner=owner,
        root_causes="A docking-station firmware update was rolled out to every model "
        "without a pilot group.",
        contributing_factors="No staged rollout for peripheral firmware; the help desk had "
        "no known-issues list to check.",
        lessons="Went well: the USB-C workaround was shared within the hour.\n"
        "To improve: pilot firmware updates with one team first.",
    )
    today = timezone.localdate()
    services.action_item_create(
        organization=organization,
        actor=actor,
        review=review,
        title="Add a pilot ring for docking-station firmware updates",
        owner=owner,
        due_date=today + timedelta(days=14),
        external_url="https://jira.example.com/browse/OPS-101",
    )
    services.action_item_create(
        organization=organization,
        actor=actor,
        review=review,
        title="Publish a known-issues page for the help desk",
        owner=actor,
        due_date=today + timedelta(days=30),
        status="in_progress",
    )
    services.review_publish(organization=organization, actor=actor, review=review)
