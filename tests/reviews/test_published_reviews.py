"""A published post-incident review is read-only everywhere but its action items are still
tracked; every change to a review or an action item enters the audit log with its values
before and after."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from core.errors import Conflict
from incidents import services
from incidents.states import Status
from reviews import services as review_services
from reviews.models import ActionItem, PostIncidentReview
from tenancy.models import AuditEvent, Role

pytestmark = pytest.mark.django_db


def api(org, name, **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


def review_of(org, title="Checkout is down"):
    incident = services.incident_create(organization=org, actor=None, title=title)
    incident = services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED, resolution="x"
    )
    return review_services.review_create(organization=org, actor=None, incident=incident)


@pytest.fixture
def carol(member):
    return member(Role.RESPONDER, username="carol")


@pytest.fixture
def published(org, carol):
    """A published review with one open action item."""
    review = review_of(org)
    review_services.review_update(
        organization=org, actor=carol, review=review, lessons="Canary first."
    )
    review_services.action_item_create(
        organization=org, actor=carol, review=review, title="Add a canary"
    )
    return review_services.review_publish(organization=org, actor=carol, review=review)


def audit_rows(org, action):
    return list(AuditEvent.objects.for_org(org).filter(action=action).order_by("id"))


# --- services -----------------------------------------------------------------------------


def test_a_published_review_cannot_be_changed(org, carol, published):
    for changes in ({"lessons": "Rewritten."}, {"owner": carol}, {"status": "draft"}):
        with pytest.raises(Conflict, match="published and can no longer be changed"):
            review_services.review_update(
                organization=org, actor=carol, review=published, **changes
            )
    # Saving what it already says changes nothing and is no error.
    review_services.review_update(
        organization=org, actor=carol, review=published, lessons="Canary first."
    )
    published.refresh_from_db()
    assert (published.lessons, published.owner, published.status) == (
        "Canary first.",
        None,
        "published",
    )


def test_a_published_reviews_action_items_are_still_tracked(org, carol, published):
    item = ActionItem.objects.for_org(org).get(review=published)
    item = review_services.action_item_update(
        organization=org,
        actor=carol,
        item=item,
        status=ActionItem.State.DONE,
        owner=carol,
        due_date=datetime.date(2030, 1, 31),
        external_url="https://jira.example.com/browse/OPS-1",
    )
    item.refresh_from_db()
    assert (item.status, item.owner, item.due_date) == ("done", carol, datetime.date(2030, 1, 31))
    with pytest.raises(Conflict, match="title stays as published"):
        review_services.action_item_update(organization=org, actor=carol, item=item, title="Other")
    with pytest.raises(Conflict, match="tracked, not added"):
        review_services.action_item_create(
            organization=org, actor=carol, review=published, title="New"
        )
    with pytest.raises(Conflict, match="stay on it"):
        review_services.action_item_delete(organization=org, actor=carol, item=item)
    assert list(ActionItem.objects.for_org(org).values_list("title", flat=True)) == ["Add a canary"]


def test_review_changes_are_audited_with_before_and_after(org, carol):
    review = review_of(org)
    review_services.review_update(
        organization=org, actor=carol, review=review, lessons="Stage rollouts.", owner=carol
    )
    review_services.review_update(
        organization=org, actor=carol, review=review, lessons="Stage rollouts."
    )
    [row] = audit_rows(org, "postincidentreview.updated")  # the no-op wrote nothing
    assert row.actor == carol
    assert row.target_id == str(review.pk)
    assert row.before == {"lessons": "", "owner": None}
    assert row.after == {"lessons": "Stage rollouts.", "owner": "carol"}


def test_action_item_changes_are_audited_with_before_and_after(org, carol):
    review = review_of(org)
    item = review_services.action_item_create(
        organization=org, actor=carol, review=review, title="Add a canary"
    )
    [created] = audit_rows(org, "actionitem.created")
    assert created.target_id == str(item.pk)
    assert created.after["title"] == "Add a canary"
    assert created.after["status"] == "open"

    review_services.action_item_update(
        organization=org, actor=carol, item=item, status="in_progress", owner=carol
    )
    [updated] = audit_rows(org, "actionitem.updated")
    assert updated.actor == carol
    assert updated.before == {"status": "open", "owner": None}
    assert updated.after == {"status": "in_progress", "owner": "carol"}

    review_services.action_item_delete(organization=org, actor=carol, item=item)
    [deleted] = audit_rows(org, "actionitem.deleted")
    assert deleted.before["title"] == "Add a canary"
    assert deleted.before["status"] == "in_progress"


# --- the API ------------------------------------------------------------------------------


def test_api_a_published_review_answers_409(org, carol, published, api_client_for):
    client = api_client_for(carol)
    detail = api(org, "review-detail", review=published.pk)
    response = client.patch(detail, {"lessons": "Rewritten."}, format="json")
    assert response.status_code == 409
    assert response.json() == {"non_field_errors": [review_services.PUBLISHED_REVIEW_IS_READ_ONLY]}
    assert client.get(detail).json()["lessons"] == "Canary first."

    items = api(org, "review-action-item-list", review=published.pk)
    assert client.post(items, {"title": "New"}, format="json").status_code == 409
    item = ActionItem.objects.for_org(org).get(review=published)
    item_url = api(org, "review-action-item-detail", review=published.pk, item=item.pk)
    response = client.patch(
        item_url, {"status": "done", "owner": "carol", "due_date": "2030-01-31"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["owner"]) == ("done", "carol")
    response = client.patch(item_url, {"title": "Other"}, format="json")
    assert response.status_code == 409
    assert "title stays as published" in response.json()["non_field_errors"][0]
    assert client.delete(item_url).status_code == 409
    assert ActionItem.objects.for_org(org).get().title == "Add a canary"
    assert [row.after for row in audit_rows(org, "actionitem.updated")] == [
        {"status": "done", "owner": "carol", "due_date": "2030-01-31"}
    ]


# --- the portal ---------------------------------------------------------------------------


def test_portal_a_published_review_is_read_only_but_its_items_are_tracked(
    org, carol, published, client_for
):
    client = client_for(carol)
    url = reverse("reviews:detail", kwargs={"org": org.slug, "review": published.pk})
    item = ActionItem.objects.for_org(org).get(review=published)
    page = client.get(url).content.decode()
    assert 'value="save"' not in page
    assert 'name="summary"' not in page
    assert 'value="publish"' not in page
    assert 'value="add_item"' not in page
    assert 'value="delete_item"' not in page
    assert f'name="item-{item.pk}-title"' not in page
    assert f'name="item-{item.pk}-status"' in page
    assert "Canary first." in page

    response = client.post(url, {"action": "save", "lessons": "Rewritten.", "owner": ""})
    assert response.status_code == 409
    assert b"can no longer be changed" in response.content
    response = client.post(url, {"action": "add_item", "title": "New", "status": "open"})
    assert response.status_code == 409
    assert client.post(url, {"action": "delete_item", "item": item.pk}).status_code == 409

    prefix = f"item-{item.pk}"
    response = client.post(
        url,
        {
            "action": "update_item",
            "item": item.pk,
            f"{prefix}-title": "Sneaked in",  # not a field any more: ignored
            f"{prefix}-status": "done",
            f"{prefix}-owner": str(carol.pk),
            f"{prefix}-due_date": "2030-01-31",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.title, item.status, item.owner) == ("Add a canary", "done", carol)
    published.refresh_from_db()
    assert published.lessons == "Canary first."


# --- the admin ----------------------------------------------------------------------------


def test_admin_a_published_review_is_read_only(org, member, client_for, published):
    owner = member(Role.OWNER)
    client = client_for(owner)
    item = ActionItem.objects.for_org(org).get(review=published)
    url = reverse("admin:reviews_postincidentreview_change", args=[published.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="summary"' not in html
    assert 'name="lessons"' not in html
    assert "Canary first." in html
    assert 'name="action_items-0-status"' in html  # still tracked
    assert 'name="action_items-0-title"' not in html
    assert "action_items-0-DELETE" not in html
    assert 'name="action_items-MAX_NUM_FORMS" value="0"' in html  # no rows added

    response = client.post(
        url,
        {
            "lessons": "Rewritten.",
            "action_items-TOTAL_FORMS": "1",
            "action_items-INITIAL_FORMS": "1",
            "action_items-MIN_NUM_FORMS": "0",
            "action_items-MAX_NUM_FORMS": "1000",
            "action_items-0-id": str(item.pk),
            "action_items-0-review": str(published.pk),
            "action_items-0-title": "Sneaked in",
            "action_items-0-owner": "",
            "action_items-0-due_date": "",
            "action_items-0-status": "done",
            "action_items-0-external_url": "",
        },
    )
    assert response.status_code == 302, response.content
    published.refresh_from_db()
    item.refresh_from_db()
    assert published.lessons == "Canary first."
    assert (item.title, item.status) == ("Add a canary", "done")
    [row] = audit_rows(org, "actionitem.updated")
    assert (row.target_id, row.before, row.after) == (
        str(item.pk),
        {"status": "open"},
        {"status": "done"},
    )

    delete = reverse("admin:reviews_postincidentreview_delete", args=[published.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:reviews_postincidentreview_changelist")
    client.post(
        changelist, {"action": "delete_selected", "_selected_action": [published.pk], "post": "yes"}
    )
    assert PostIncidentReview.objects.for_org(org).filter(pk=published.pk).exists()


def test_publishing_publishes_the_review_with_its_action_items_on_the_incident_stream(
    org, carol, published
):
    from events.models import Event
    from tests.conftest import see

    see(org)
    stream = list(
        Event.objects.for_org(org)
        .filter(stream=f"incident:{published.incident_id}")
        .order_by("pk")
        .values_list("type", "payload")
    )
    assert [kind for kind, _ in stream][-1] == "review.published"
    payload = stream[-1][1]
    assert payload["actor"]["label"] == "carol"
    assert payload["incident"]["status"] == "resolved"
    review = payload["review"]
    assert review["id"] == published.pk
    assert review["lessons"] == "Canary first."
    assert [item["title"] for item in review["action_items"]] == ["Add a canary"]
    assert review["action_items"][0]["status"] == "open"
