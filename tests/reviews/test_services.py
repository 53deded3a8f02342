"""Post-incident reviews and their action items: the services."""

from __future__ import annotations

import pytest

from core.errors import Conflict, DomainError
from incidents import services
from incidents.models import TimelineEntry
from incidents.states import Status
from incidents.templatetags.incidents_portal import entry_summary
from reviews import services as review_services
from reviews.models import PostIncidentReview
from tenancy.models import AuditEvent, Role
from tests.reviews.helpers import LINE, review_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(org):
    return services.service_create(organization=org, actor=None, slug="checkout", name="Checkout")


def test_only_resolved_or_closed_incidents_are_reviewed(org):
    incident = services.incident_create(organization=org, actor=None, title="Open")
    with pytest.raises(Conflict):
        review_services.review_create(organization=org, actor=None, incident=incident)
    incident = services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED, resolution="x"
    )
    incident = services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.CLOSED
    )
    review = review_services.review_create(organization=org, actor=None, incident=incident)
    assert review.status == PostIncidentReview.State.DRAFT
    with pytest.raises(Conflict):  # one per incident
        review_services.review_create(organization=org, actor=None, incident=incident)
    assert PostIncidentReview.objects.for_org(org).count() == 1


def test_the_review_is_prefilled_from_the_incident_and_its_timeline(org, member, service):
    carol = member(Role.RESPONDER, username="carol")
    incident = services.incident_create(
        organization=org,
        actor=carol,
        title="Checkout is down",
        impact=1,
        urgency=1,
        service=service,
    )
    services.incident_comment(
        organization=org,
        actor=carol,
        incident=incident,
        body="Internal: blame the DB",
        is_public=False,
    )
    services.incident_comment(
        organization=org, actor=carol, incident=incident, body="Looking into it", is_public=True
    )
    services.incident_update(
        organization=org, actor=carol, incident=incident, root_cause="A bad index migration."
    )
    incident = services.incident_transition(
        organization=org,
        actor=carol,
        incident=incident,
        status=Status.RESOLVED,
        resolution="Reverted.",
    )
    review = review_services.review_create(organization=org, actor=carol, incident=incident)

    assert incident.title in review.summary
    assert "Reverted." in review.summary
    assert incident.get_priority_display() in review.impact
    assert service.name in review.impact
    assert review.root_causes == "A bad index migration."
    assert review.created_by == carol
    lines = review.timeline_summary.splitlines()
    count = TimelineEntry.objects.for_org(org).filter(incident=incident).count()
    assert len(lines) == count == 5
    assert all(LINE.fullmatch(line) for line in lines), lines
    assert "carol" in lines[0]
    assert "Reported the incident" in lines[0]
    assert "Commented (internal)" in lines[1]
    assert "blame" not in review.timeline_summary  # internal bodies stay out (stakeholders read it)
    assert "Looking into it" in lines[2]
    assert "Changed the root cause (internal)" in lines[3]
    assert "Changed the status from New to Resolved: " not in lines[4]
    assert lines[4].endswith("Changed the status from New to Resolved")


def test_publish_stamps_the_review_and_the_incident_timeline(org, member):
    carol = member(Role.RESPONDER)
    review = review_of(org)
    review = review_services.review_publish(organization=org, actor=carol, review=review)
    assert review.status == PostIncidentReview.State.PUBLISHED
    assert review.published_at is not None
    entry = TimelineEntry.objects.for_org(org).filter(incident=review.incident).last()
    assert entry.kind == TimelineEntry.Kind.REVIEW_PUBLISHED
    assert entry.data == {"review": review.pk}
    assert entry.actor == carol
    assert entry_summary(entry) == "published the post-incident review"
    assert AuditEvent.objects.for_org(org).filter(action="review.published").exists()
    with pytest.raises(Conflict):
        review_services.review_publish(organization=org, actor=carol, review=review)
    with pytest.raises(Conflict):
        review_services.review_update(organization=org, actor=carol, review=review, status="draft")


def test_people_on_reviews_are_members_of_the_organization(org, other_org, member):
    stranger = member(Role.OWNER, organization=other_org)
    review = review_of(org)
    with pytest.raises(DomainError):
        review_services.review_update(organization=org, actor=None, review=review, owner=stranger)
    with pytest.raises(DomainError):
        review_services.action_item_create(
            organization=org, actor=None, review=review, title="x", owner=stranger
        )
    with pytest.raises(DomainError):  # another organization's review
        review_services.action_item_create(
            organization=other_org, actor=None, review=review, title="x"
        )


def test_review_prefill_does_not_quote_internal_entries(org, member):
    responder = member(Role.RESPONDER)
    incident = services.incident_create(organization=org, actor=responder, title="Down")
    services.incident_override_priority(
        organization=org,
        actor=responder,
        incident=incident,
        priority=1,
        reason="the CFO is watching",
    )
    services.incident_update(
        organization=org,
        actor=responder,
        incident=incident,
        description="internal detail about the vendor contract",
    )
    services.incident_transition(
        organization=org,
        actor=responder,
        incident=incident,
        status=Status.RESOLVED,
        resolution="Restarted.",
    )
    review = review_services.review_create(organization=org, actor=responder, incident=incident)
    assert "CFO" not in review.timeline_summary
    assert "vendor contract" not in review.timeline_summary
    assert "Priority overridden (internal)" in review.timeline_summary
    assert "Changed the description (internal)" in review.timeline_summary
    assert "Changed the status from New to Resolved" in review.timeline_summary
