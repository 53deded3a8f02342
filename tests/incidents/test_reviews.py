"""Post-incident reviews and their action items: services, the API, the portal, roles,
other organizations and query counts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.errors import Conflict, DomainError
from incidents import services
from incidents.models import ActionItem, PostIncidentReview, TimelineEntry
from incidents.states import Status
from incidents.templatetags.incidents_portal import entry_summary
from tenancy.models import AuditEvent, Role
from tests.conftest import see

pytestmark = pytest.mark.django_db

RESPONDERS = [Role.OWNER, Role.ADMIN, Role.RESPONDER]
LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC — .+ — .+")


def api(org, name="review-list", **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


def portal(org, name, **kwargs):
    return reverse(f"incidents:{name}", kwargs={"org": org.slug, **kwargs})


def resolved(org, actor=None, title="Checkout is down", **fields):
    incident = services.incident_create(organization=org, actor=actor, title=title, **fields)
    return services.incident_transition(
        organization=org,
        actor=actor,
        incident=incident,
        status=Status.RESOLVED,
        resolution="Rolled back the release.",
    )


def review_of(org, actor=None, **fields):
    return services.review_create(organization=org, actor=actor, incident=resolved(org, **fields))


@pytest.fixture
def service(org):
    return services.service_create(organization=org, actor=None, slug="checkout", name="Checkout")


# --- services -----------------------------------------------------------------------------


def test_only_resolved_or_closed_incidents_are_reviewed(org):
    incident = services.incident_create(organization=org, actor=None, title="Open")
    with pytest.raises(Conflict):
        services.review_create(organization=org, actor=None, incident=incident)
    incident = services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED, resolution="x"
    )
    incident = services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.CLOSED
    )
    review = services.review_create(organization=org, actor=None, incident=incident)
    assert review.status == PostIncidentReview.State.DRAFT
    with pytest.raises(Conflict):  # one per incident
        services.review_create(organization=org, actor=None, incident=incident)
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
    review = services.review_create(organization=org, actor=carol, incident=incident)

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
    review = services.review_publish(organization=org, actor=carol, review=review)
    assert review.status == PostIncidentReview.State.PUBLISHED
    assert review.published_at is not None
    entry = TimelineEntry.objects.for_org(org).filter(incident=review.incident).last()
    assert entry.kind == TimelineEntry.Kind.REVIEW_PUBLISHED
    assert entry.data == {"review": review.pk}
    assert entry.actor == carol
    assert entry_summary(entry) == "published the post-incident review"
    assert AuditEvent.objects.for_org(org).filter(action="review.published").exists()
    with pytest.raises(Conflict):
        services.review_publish(organization=org, actor=carol, review=review)
    with pytest.raises(Conflict):
        services.review_update(organization=org, actor=carol, review=review, status="draft")


def test_people_on_reviews_are_members_of_the_organization(org, other_org, member):
    stranger = member(Role.OWNER, organization=other_org)
    review = review_of(org)
    with pytest.raises(DomainError):
        services.review_update(organization=org, actor=None, review=review, owner=stranger)
    with pytest.raises(DomainError):
        services.action_item_create(
            organization=org, actor=None, review=review, title="x", owner=stranger
        )
    with pytest.raises(DomainError):  # another organization's review
        services.action_item_create(organization=other_org, actor=None, review=review, title="x")


# --- the API ------------------------------------------------------------------------------


def test_api_create_edit_publish(org, member, api_client_for):
    carol = member(Role.RESPONDER, username="carol")
    client = api_client_for(carol)
    open_incident = services.incident_create(organization=org, actor=None, title="Open")
    response = client.post(api(org), {"incident": open_incident.number}, format="json")
    assert response.status_code == 409
    incident = resolved(org)
    response = client.post(api(org), {"incident": incident.number}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["incident"] == incident.number
    assert body["status"] == "draft"
    assert body["created_by"] == "carol"
    assert body["timeline_summary"]
    assert client.post(api(org), {"incident": incident.number}, format="json").status_code == 409
    assert client.post(api(org), {"incident": 999999}, format="json").json() == {
        "incident": ["Not found."]
    }

    detail = api(org, "review-detail", review=body["id"])
    response = client.patch(
        detail,
        {"lessons": "Stage rollouts.", "owner": "carol", "status": "in_review"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["lessons"] == "Stage rollouts."
    assert response.json()["owner"] == "carol"
    assert response.json()["status"] == "in_review"
    assert client.patch(detail, {"status": "published"}, format="json").status_code == 400
    assert client.get(detail).json()["status"] == "in_review"

    response = client.post(api(org, "review-publish", review=body["id"]))
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert response.json()["published_at"]
    assert client.post(api(org, "review-publish", review=body["id"])).status_code == 409

    listed = client.get(api(org), {"status": "published"}).json()["results"]
    assert [r["id"] for r in listed] == [body["id"]]
    assert client.get(api(org), {"status": "draft"}).json()["results"] == []
    assert client.get(api(org), {"status": "bogus"}).status_code == 400


def test_api_action_items_crud(org, member, api_client_for):
    carol = member(Role.RESPONDER, username="carol")
    client = api_client_for(carol)
    review = review_of(org)
    items = api(org, "review-action-item-list", review=review.pk)
    response = client.post(
        items,
        {
            "title": "Add a canary",
            "owner": "carol",
            "due_date": "2030-01-31",
            "external_url": "https://jira.example.com/browse/OPS-1",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["owner"] == "carol"
    assert item["status"] == "open"
    assert client.post(items, {"title": ""}, format="json").status_code == 400
    assert (
        client.post(
            items, {"title": "x", "external_url": "javascript:alert(1)"}, format="json"
        ).status_code
        == 400
    )
    assert [i["title"] for i in client.get(items).json()["results"]] == ["Add a canary"]

    detail = api(org, "review-action-item-detail", review=review.pk, item=item["id"])
    response = client.patch(detail, {"status": "done", "owner": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done"
    assert response.json()["owner"] is None
    assert client.patch(detail, {"status": "nope"}, format="json").status_code == 400
    # An item is reached only through its own review.
    other = review_of(org, title="Another")
    wrong = api(org, "review-action-item-detail", review=other.pk, item=item["id"])
    assert client.patch(wrong, {"status": "open"}, format="json").status_code == 404
    assert client.delete(wrong).status_code == 404
    assert client.delete(detail).status_code == 204
    assert not ActionItem.objects.for_org(org).exists()
    assert client.delete(detail).status_code == 404


@pytest.mark.parametrize("role", list(Role))
def test_api_role_matrix(org, member, api_client_for, role):
    review = review_of(org)
    item = services.action_item_create(organization=org, actor=None, review=review, title="x")
    client = api_client_for(member(role))
    incident = resolved(org, title="Second")
    urls = {
        "list": api(org),
        "detail": api(org, "review-detail", review=review.pk),
        "items": api(org, "review-action-item-list", review=review.pk),
    }
    item_url = api(org, "review-action-item-detail", review=review.pk, item=item.pk)
    publish = api(org, "review-publish", review=review.pk)
    if role == Role.REPORTER:
        for url in urls.values():
            assert client.get(url).status_code == 404
        assert client.post(urls["list"], {"incident": incident.number}).status_code == 404
        assert client.patch(urls["detail"], {"lessons": "x"}).status_code == 404
        assert client.post(publish).status_code == 404
        assert client.post(urls["items"], {"title": "y"}).status_code == 404
        assert client.patch(item_url, {"title": "y"}).status_code == 404
        assert client.delete(item_url).status_code == 404
        return
    if role == Role.STAKEHOLDER:  # a draft is the responders' own: not found, not listed
        assert client.get(urls["list"]).json()["results"] == []
        assert client.get(urls["detail"]).status_code == 404
        assert client.get(urls["items"]).status_code == 404
        review = services.review_publish(organization=org, actor=None, review=review)
        assert [r["id"] for r in client.get(urls["list"]).json()["results"]] == [review.pk]
    for url in urls.values():
        assert client.get(url).status_code == 200
    writes = [
        client.post(urls["list"], {"incident": incident.number}),
        client.patch(urls["detail"], {"lessons": "x"}),
        client.post(urls["items"], {"title": "y"}),
        client.patch(item_url, {"title": "z"}),
        client.delete(item_url),
        client.post(publish),
    ]
    expected = [201, 200, 201, 200, 204, 200] if role in RESPONDERS else [403] * 6
    assert [w.status_code for w in writes] == expected


def test_api_other_organizations_reviews_are_not_found(
    org, other_org, member, api_client_for, api_key_for
):
    stranger = member(Role.OWNER, organization=other_org, username="stranger")
    theirs = review_of(other_org, actor=stranger, title="Their secret")
    their_item = services.action_item_create(
        organization=other_org, actor=stranger, review=theirs, title="Their item"
    )
    ours = review_of(org)
    our_item = services.action_item_create(organization=org, actor=None, review=ours, title="x")
    for principal in (member(Role.OWNER), api_key_for(Role.OWNER)):
        client = api_client_for(principal)
        for org_, review, item in [
            (org, theirs, their_item),  # our organization, their ids
            (other_org, theirs, their_item),  # their organization
            (org, ours, their_item),  # our review, their item
        ]:
            urls = [api(org_, "review-action-item-detail", review=review.pk, item=item.pk)]
            if review == theirs:
                urls += [
                    api(org_, "review-detail", review=review.pk),
                    api(org_, "review-publish", review=review.pk),
                    api(org_, "review-action-item-list", review=review.pk),
                ]
            for url in urls:
                for method in ("get", "post", "patch", "delete"):
                    response = getattr(client, method)(url, {"title": "x"}, format="json")
                    assert response.status_code in (404, 405), (method, url)
                    assert b"secret" not in response.content.lower()
            if org_ == other_org:
                assert client.get(api(other_org)).status_code == 404
        # Their incident number, their members' usernames: "not found" in our bodies.
        response = client.post(api(org), {"incident": theirs.incident.number + 100}, format="json")
        assert response.status_code == 400
        detail = api(org, "review-detail", review=ours.pk)
        response = client.patch(detail, {"owner": "stranger"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"owner": ["Not found."]}
        items = api(org, "review-action-item-list", review=ours.pk)
        response = client.post(items, {"title": "x", "owner": "stranger"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"owner": ["Not found."]}
        item = api(org, "review-action-item-detail", review=ours.pk, item=our_item.pk)
        response = client.patch(item, {"owner": "stranger"}, format="json")
        assert response.status_code == 400
    theirs.refresh_from_db()
    assert theirs.status == "draft"
    assert theirs.lessons == ""
    assert ActionItem.objects.unscoped().filter(pk=their_item.pk, title="Their item").exists()


@pytest.mark.parametrize("credential", ["session", "api_key"])
def test_api_list_query_count_does_not_grow_with_the_page(
    org, member, api_client_for, api_key_for, credential
):
    people = [member(Role.RESPONDER) for _ in range(3)]
    for index in range(55):
        review = review_of(org, actor=people[index % 3], title=f"#{index}")
        services.review_update(organization=org, actor=None, review=review, owner=people[index % 3])
    principal = member(Role.RESPONDER) if credential == "session" else api_key_for(Role.RESPONDER)
    client = api_client_for(principal)
    client.get(api(org))  # a key notes its last use at most once a minute: not measured
    counts = []
    for page_size in (1, 50):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(api(org), {"page_size": page_size})
        assert response.status_code == 200
        results = response.json()["results"]
        assert len(results) == page_size
        assert all(r["owner"] and r["created_by"] for r in results)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 10


# --- the portal ---------------------------------------------------------------------------


def test_portal_start_edit_items_and_publish(org, member, client_for):
    carol = member(Role.RESPONDER, username="carol")
    client = client_for(carol)
    incident = resolved(org, actor=carol)
    page = client.get(portal(org, "detail", number=incident.number))
    assert b"Start post-incident review" in page.content

    response = client.post(portal(org, "review-start", number=incident.number))
    review = PostIncidentReview.objects.for_org(org).get(incident=incident)
    assert response.status_code == 302
    assert response.url == portal(org, "review-detail", review=review.pk)
    # Starting again opens the same review.
    response = client.post(portal(org, "review-start", number=incident.number))
    assert response.url == portal(org, "review-detail", review=review.pk)
    assert PostIncidentReview.objects.for_org(org).count() == 1

    url = portal(org, "review-detail", review=review.pk)
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

    listing = client.get(portal(org, "review-list"))
    assert listing.status_code == 200
    assert incident.reference.encode() in listing.content
    assert (
        incident.reference.encode()
        not in client.get(portal(org, "review-list"), {"status": "draft"}).content
    )


def test_portal_an_open_incident_cannot_be_reviewed(org, member, client_for):
    client = client_for(member(Role.RESPONDER))
    incident = services.incident_create(organization=org, actor=None, title="Open")
    page = client.get(portal(org, "detail", number=incident.number))
    assert b"Start post-incident review" not in page.content
    response = client.post(portal(org, "review-start", number=incident.number))
    assert response.status_code == 302
    assert response.url == portal(org, "detail", number=incident.number)
    assert not PostIncidentReview.objects.for_org(org).exists()


@pytest.mark.parametrize("role", list(Role))
def test_portal_role_matrix(org, member, client_for, role):
    user = member(role)
    review = review_of(org, reporter=user)  # a reporter's own incident, even
    client = client_for(user)
    url = portal(org, "review-detail", review=review.pk)
    start = portal(org, "review-start", number=resolved(org, reporter=user).number)
    if role == Role.REPORTER:
        assert client.get(portal(org, "review-list")).status_code == 404
        assert client.get(url).status_code == 404
        assert client.post(url, {"action": "publish"}).status_code == 404
        assert client.post(start).status_code == 404
        return
    if role == Role.STAKEHOLDER:  # drafts are not theirs to read
        assert review.incident.title.encode() not in client.get(portal(org, "review-list")).content
        assert client.get(url).status_code == 404
        assert client.post(url, {"action": "publish"}).status_code == 404
        review = services.review_publish(organization=org, actor=None, review=review)
        assert review.incident.title.encode() in client.get(portal(org, "review-list")).content
    assert client.get(portal(org, "review-list")).status_code == 200
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
    their_item = services.action_item_create(
        organization=other_org, actor=stranger, review=theirs, title="Their item"
    )
    ours = review_of(org)
    client = client_for(member(Role.OWNER))
    for org_ in (org, other_org):
        url = portal(org_, "review-detail", review=theirs.pk)
        assert client.get(url).status_code == 404
        assert client.post(url, {"action": "publish"}).status_code == 404
        start = portal(org_, "review-start", number=theirs.incident.number + 100)
        assert client.post(start).status_code == 404
    assert client.get(portal(other_org, "review-list")).status_code == 404
    assert b"secret" not in client.get(portal(org, "review-list")).content.lower()
    # Their action item through our review; their member as our owner.
    url = portal(org, "review-detail", review=ours.pk)
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


def test_the_admin_shows_reviews_with_their_action_items(org, member, client_for):
    owner = member(Role.OWNER)
    owner.is_staff = True
    owner.save()
    review = review_of(org)
    services.action_item_create(organization=org, actor=None, review=review, title="Inline me")
    client = client_for(owner)
    assert client.get(reverse("admin:incidents_postincidentreview_changelist")).status_code == 200
    page = client.get(reverse("admin:incidents_postincidentreview_change", args=[review.pk]))
    assert page.status_code == 200
    assert b"Inline me" in page.content
