"""Post-incident reviews and their action items in the API: roles, other organizations
and query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from reviews import services as review_services
from reviews.models import ActionItem
from tenancy.models import Role
from tests.reviews.helpers import RESPONDERS, api, resolved, review_of

pytestmark = pytest.mark.django_db


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
    item = review_services.action_item_create(
        organization=org, actor=None, review=review, title="x"
    )
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
        review = review_services.review_publish(organization=org, actor=None, review=review)
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
    their_item = review_services.action_item_create(
        organization=other_org, actor=stranger, review=theirs, title="Their item"
    )
    ours = review_of(org)
    our_item = review_services.action_item_create(
        organization=org, actor=None, review=ours, title="x"
    )
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
        review_services.review_update(
            organization=org, actor=None, review=review, owner=people[index % 3]
        )
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
