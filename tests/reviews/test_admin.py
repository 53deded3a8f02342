"""Post-incident reviews in the admin: the same services, people of the organization only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import services
from incidents.states import Status
from reviews import services as review_services
from reviews.models import ActionItem, PostIncidentReview
from tenancy.models import Role
from tests.admin_forms import errors, shown
from tests.conftest import see
from tests.reviews.helpers import review_of

pytestmark = pytest.mark.django_db


def admin_url(obj, view="change"):
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


def choices(response, field) -> set:
    return set(response.context["adminform"].form.fields[field].queryset)


@pytest.fixture
def two(org, other_org, member):
    """Per organization: a responder and a reporter."""
    return {
        organization.slug: {
            "responder": member(Role.RESPONDER, organization=organization),
            "reporter": member(Role.REPORTER, organization=organization),
        }
        for organization in (org, other_org)
    }


@pytest.fixture
def review(org):
    incident = services.incident_create(organization=org, actor=None, title="Reviewed")
    services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED, resolution="ok"
    )
    return review_services.review_create(organization=org, actor=None, incident=incident)


def test_a_reviews_owner_is_a_member_of_its_organization(client_for, operator, org, two, review):
    ours, theirs = two["acme"], two["globex"]
    client = client_for(operator)
    url = admin_url(review)
    page = client.get(url)
    assert ours["responder"] in choices(page, "owner")
    assert theirs["responder"] not in choices(page, "owner")
    response = client.post(url, shown(page, owner=theirs["responder"].pk))
    assert "owner" in errors(response)
    assert PostIncidentReview.objects.for_org(org).get(pk=review.pk).owner is None
    response = client.post(url, shown(page, owner=ours["responder"].pk, summary="Better"))
    assert response.status_code == 302
    saved = PostIncidentReview.objects.for_org(org).get(pk=review.pk)
    assert (saved.owner, saved.summary) == (ours["responder"], "Better")


def test_an_action_items_owner_is_a_member_of_its_organization(
    client_for, operator, org, two, review
):
    ours, theirs = two["acme"], two["globex"]
    client = client_for(operator)
    url = admin_url(review)
    page = client.get(url)
    row = {
        "action_items-TOTAL_FORMS": 1,
        "action_items-0-title": "Add a canary",
        "action_items-0-status": "open",
        "action_items-0-review": review.pk,
    }
    refused = client.post(
        url, shown(page, **row, **{"action_items-0-owner": theirs["reporter"].pk})
    )
    assert refused.status_code == 200
    [inline] = refused.context["inline_admin_formsets"]
    assert "owner" in inline.formset.forms[0].errors
    see(org)
    assert not ActionItem.objects.unscoped().exists()
    added = client.post(url, shown(page, **row, **{"action_items-0-owner": ours["responder"].pk}))
    assert added.status_code == 302
    item = ActionItem.objects.for_org(org).get()
    assert (item.title, item.owner, item.review_id) == (
        "Add a canary",
        ours["responder"],
        review.pk,
    )


def test_the_admin_shows_reviews_with_their_action_items(org, member, client_for):
    owner = member(Role.OWNER)
    owner.is_staff = True
    owner.save()
    review = review_of(org)
    review_services.action_item_create(
        organization=org, actor=None, review=review, title="Inline me"
    )
    client = client_for(owner)
    assert client.get(reverse("admin:reviews_postincidentreview_changelist")).status_code == 200
    page = client.get(reverse("admin:reviews_postincidentreview_change", args=[review.pk]))
    assert page.status_code == 200
    assert b"Inline me" in page.content
