"""Services and teams name the policy that pages for them: in their API and their admin,
through the policy services, only ever one of their own organization's policies."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import services as incident_services
from incidents.models import Service
from oncall.models import ServicePolicy, TeamPolicy
from oncall.services import policies
from tenancy import services
from tenancy.models import AuditEvent, Role, Team
from tests.admin_forms import errors, shown

pytestmark = pytest.mark.django_db

KINDS = [
    ("service", "service-detail", "service-list", ServicePolicy),
    ("team", "team-detail", "team-list", TeamPolicy),
]


@pytest.fixture
def admin_user(member):
    return member(Role.ADMIN)


@pytest.fixture
def admin(api_client_for, admin_user):
    return api_client_for(admin_user)


def make_policy(organization, name="Default"):
    user = services.user_create(username=f"p-{organization.slug}-{name}", email="", password=None)
    services.membership_create(
        organization=organization, actor=None, user=user, role=Role.RESPONDER
    )
    return policies.policy_create(
        organization=organization, actor=None, name=name, steps=[{"users": [user.username]}]
    )


@pytest.fixture
def records(org):
    team = services.team_create(organization=org, actor=None, slug="ops", name="Ops")
    service = incident_services.service_create(organization=org, actor=None, slug="web", name="W")
    return {"team": team, "service": service}


@pytest.mark.parametrize(("kind", "detail", "listing", "link"), KINDS)
def test_the_api_sets_shows_and_clears_it(org, admin, records, kind, detail, listing, link):
    policy = make_policy(org)
    record = records[kind]
    address = reverse(detail, kwargs={"org": org.slug, "slug": record.slug})
    assert admin.get(address).json()["escalation_policy"] is None
    response = admin.patch(address, {"escalation_policy": policy.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["escalation_policy"] == policy.pk
    assert link.objects.for_org(org).get().policy == policy
    assert admin.get(address).json()["escalation_policy"] == policy.pk
    rows = admin.get(reverse(listing, kwargs={"org": org.slug})).json()["results"]
    assert [row["escalation_policy"] for row in rows] == [policy.pk]
    assert AuditEvent.objects.for_org(org).filter(action=f"{kind}.escalation_policy_set").exists()
    cleared = admin.patch(address, {"escalation_policy": None}, format="json")
    assert cleared.json()["escalation_policy"] is None
    assert not link.objects.for_org(org).exists()


@pytest.mark.parametrize(("kind", "detail", "listing", "link"), KINDS)
def test_created_with_it(org, admin, kind, detail, listing, link):
    policy = make_policy(org)
    response = admin.post(
        reverse(listing, kwargs={"org": org.slug}),
        {"slug": "new", "name": "New", "escalation_policy": policy.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["escalation_policy"] == policy.pk
    assert link.objects.for_org(org).get().policy == policy


@pytest.mark.parametrize(("kind", "detail", "listing", "link"), KINDS)
@pytest.mark.parametrize("value", ["theirs", 999999, "x", True, -1, 2**70])
def test_another_organizations_policy_is_not_found_and_nothing_changes(
    org, other_org, admin, records, kind, detail, listing, link, value
):
    theirs = make_policy(other_org, "Secret")
    value = theirs.pk if value == "theirs" else value
    record = records[kind]
    address = reverse(detail, kwargs={"org": org.slug, "slug": record.slug})
    response = admin.patch(address, {"escalation_policy": value, "name": "Renamed"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["escalation_policy"]
    assert b"Secret" not in response.content
    assert not link.objects.for_org(org).exists()
    assert type(record).objects.for_org(org).get(pk=record.pk).name != "Renamed"
    created = admin.post(
        reverse(listing, kwargs={"org": org.slug}),
        {"slug": "new", "name": "New", "escalation_policy": value},
        format="json",
    )
    assert created.status_code == 400
    assert not type(record).objects.for_org(org).filter(slug="new").exists()


def test_the_service_policy_cannot_be_linked_across_organizations_by_the_service(org, other_org):
    theirs = make_policy(other_org)
    service = incident_services.service_create(organization=org, actor=None, slug="w", name="W")
    with pytest.raises(policies.DomainError):
        policies.service_policy_set(organization=org, actor=None, service=service, value=theirs)


@pytest.mark.parametrize(("kind", "model"), [("service", Service), ("team", Team)])
def test_the_admin_offers_the_organizations_policies_and_saves_through_services(
    org, other_org, client_for, admin_user, records, kind, model
):
    ours, theirs = make_policy(org, "Ours"), make_policy(other_org, "Theirs")
    record = records[kind]
    client = client_for(admin_user)
    address = reverse(f"admin:{model._meta.app_label}_{kind}_change", args=[record.pk])
    page = client.get(address)
    assert page.status_code == 200
    assert b"Ours" in page.content
    assert b"Theirs" not in page.content
    response = client.post(address, shown(page, escalation_policy=ours.pk))
    assert response.status_code == 302, errors(response)
    assert policies.policy_of(model.objects.for_org(org).select_related("escalation").get()) == (
        ours.pk
    )
    refused = client.post(address, shown(page, escalation_policy=theirs.pk))
    assert "escalation_policy" in errors(refused)
    add_address = reverse(f"admin:{model._meta.app_label}_{kind}_add")
    add = client.get(add_address)
    assert add.status_code == 200
    assert b"Ours" in add.content, "chosen as the record is added"
    assert b"Theirs" not in add.content
    data = shown(add, organization=org.pk, slug="fresh", name="Fresh", escalation_policy=ours.pk)
    assert client.post(add_address, data).status_code == 302
    fresh = model.objects.for_org(org).select_related("escalation").get(slug="fresh")
    assert policies.policy_of(fresh) == ours.pk
