"""Post-incident reviews and their action items in the portal: roles and other
organizations."""

from __future__ import annotations

import pytest

from incidents import services
from reviews import services as review_services
from reviews.models import ActionItem, PostIncidentReview
from tenancy.models import Role
from tests.conftest import see
from tests.reviews.helpers import RESPONDERS, incident_page, portal, resolved, review_of

pytestmark = pytest.mark.django_db


def test_portal_start_edit_items_and_publish(org, member, client_for):
    carol = member(Role.RESPONDER, username="carol")
    client = client_for(carol)
    incident = resolved(org, actor=carol)
    page = client.get(incident_page(org, incident))
    assert b"Start post-incident review" in page.content

    response = client.post(portal(org, "start", number=incident.number))
    review = PostIncidentReview.objects.for_org(org).get(incident=incident)
    assert response.status_code == 302
    assert response.url == portal(org, "detail", review=review.pk)
    # Starting again opens the same review.
    response = client.post(portal(org, "start", number=incident.number))
    assert response.url == portal(org, "detail", review=review.pk)
    assert PostIncidentReview.objects.for_org(org).count() == 1

    url = portal(org, "detail", review=review.pk)
    page = client.get(url)
    assert page.status_code == 200
    assert b"Checkout is down" in page.content
    response = client.post(
        url,
        {
            "action": "save",
            "summary": "S",
            "impact": "I",
            "root_causes": "R",
            "contributing_factors": "C",
            "lessons": "L",
            "timeline_summary": "T",
            "owner": str(carol.pk),
            "status": "in_review",
        },
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.lessons, review.owner, review.status) == ("L", carol, "in_review")

    response = client.post(
        url, {"action": "add_item", "title": "Add a canary", "status": "open", "owner": ""}
    )
    assert response.status_code == 302
    item = ActionItem.objects.for_org(org).get()
    assert client.post(url, {"action": "add_item", "title": ""}).status_code == 400
    prefix = f"item-{item.pk}"
    response = client.post(
        url,
        {
            "action": "update_item",
            "item": item.pk,
            f"{prefix}-title": "Add two canaries",
            f"{prefix}-status": "in_progress",
            f"{prefix}-owner": str(carol.pk),
            f"{prefix}-external_url": "https://jira.example.com/browse/OPS-2",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.title, item.status, item.owner) == ("Add two canaries", "in_progress", carol)
    assert b"Add two canaries" in client.get(url).content

    assert client.post(url, {"action": "delete_item", "item": item.pk}).status_code == 302
    assert not ActionItem.objects.for_org(org).exists()
    assert client.post(url, {"action": "publish"}).status_code == 302
    review.refresh_from_db()
    assert review.status == "published"
    assert client.post(url, {"action": "publish"}).status_code == 409

    listing = client.get(portal(org, "list"))
    assert listing.status_code == 200
    assert incident.reference.encode() in listing.content
    assert (
        incident.reference.encode()
        not in client.get(portal(org, "list"), {"status": "draft"}).content
    )


def test_portal_an_open_incident_cannot_be_reviewed(org, member, client_for):
    client = client_for(member(Role.RESPONDER))
    incident = services.incident_create(organization=org, actor=None, title="Open")
    page = client.get(incident_page(org, incident))
    assert b"Start post-incident review" not in page.content
    response = client.post(portal(org, "start", number=incident.number))
    assert response.status_code == 302
    assert response.url == incident_page(org, incident)
    assert not PostIncidentReview.objects.for_org(org).exists()


@pytest.mark.parametrize("role", list(Role))
def test_portal_role_matrix(org, member, client_for, role):
    user = member(role)
    review = review_of(org, reporter=user)  # a reporter's own incident, even
    client = client_for(user)
    url = portal(org, "detail", review=review.pk)
    start = portal(org, "start", number=resolved(org, reporter=user).number)
    if role == Role.REPORTER:
        assert client.get(portal(org, "list")).status_code == 404
        assert client.get(url).status_code == 404
        assert client.post(url, {"action": "publish"}).status_code == 404
        assert client.post(start).status_code == 404
        return
    if role == Role.STAKEHOLDER:  # drafts are not theirs to read
        assert review.incident.title.encode() not in client.get(portal(org, "list")).content
        assert client.get(url).status_code == 404
        assert client.post(url, {"action": "publish"}).status_code == 404
        review = review_services.review_publish(organization=org, actor=None, review=review)
        assert review.incident.title.encode() in client.get(portal(org, "list")).content
    assert client.get(portal(org, "list")).status_code == 200
    page = client.get(url)
    assert page.status_code == 200
    if role in RESPONDERS:
        assert b'value="publish"' in page.content
        assert client.post(start).status_code == 302
        assert client.post(url, {"action": "publish"}).status_code == 302
    else:
        assert b'value="publish"' not in page.content
        assert client.post(start).status_code == 403
        assert client.post(url, {"action": "publish"}).status_code == 403
        assert client.post(url, {"action": "add_item", "title": "x"}).status_code == 403


def test_portal_other_organizations_reviews_are_not_found(org, other_org, member, client_for):
    stranger = member(Role.OWNER, organization=other_org, username="stranger")
    theirs = review_of(other_org, actor=stranger, title="Their secret")
    their_item = review_services.action_item_create(
        organization=other_org, actor=stranger, review=theirs, title="Their item"
    )
    ours = review_of(org)
    client = client_for(member(Role.OWNER))
    for org_ in (org, other_org):
        url = portal(org_, "detail", review=theirs.pk)
        assert client.get(url).status_code == 404
        assert client.post(url, {"action": "publish"}).status_code == 404
        start = portal(org_, "start", number=theirs.incident.number + 100)
        assert client.post(start).status_code == 404
    assert client.get(portal(other_org, "list")).status_code == 404
    assert b"secret" not in client.get(portal(org, "list")).content.lower()
    # Their action item through our review; their member as our owner.
    url = portal(org, "detail", review=ours.pk)
    assert client.post(url, {"action": "delete_item", "item": their_item.pk}).status_code == 404
    response = client.post(
        url, {"action": "add_item", "title": "x", "status": "open", "owner": str(stranger.pk)}
    )
    assert response.status_code == 400
    see(org, other_org)
    assert ActionItem.objects.unscoped().filter(pk=their_item.pk).exists()
    assert not ActionItem.objects.for_org(org).exists()
    theirs.refresh_from_db()
    assert theirs.status == "draft"
