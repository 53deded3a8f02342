"""Escalation policies in the admin: pages render, saves go through the services, and
another organization's administrator gets 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from oncall.models import EscalationPolicy, Step
from oncall.services import policies
from tenancy.models import AuditEvent, Role
from tests.admin_forms import shown

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(member):
    return member(Role.ADMIN, username="boss")


@pytest.fixture
def policy(org, admin_user):
    return policies.policy_create(
        organization=org,
        actor=None,
        name="Default",
        steps=[{"users": ["boss"]}, {"delay_minutes": 10, "users": ["boss"]}],
    )


def page(model, view, *args):
    return reverse(f"admin:oncall_{model}_{view}", args=args)


def test_the_pages_render(client_for, admin_user, policy):
    client = client_for(admin_user)
    step = policy.steps.get(position=0)
    for address in (
        page("escalationpolicy", "changelist"),
        page("escalationpolicy", "add"),
        page("escalationpolicy", "change", policy.pk),
        page("step", "change", step.pk),
    ):
        response = client.get(address)
        assert response.status_code == 200, address
    assert b"boss" in client.get(page("escalationpolicy", "change", policy.pk)).content


def test_saving_goes_through_the_services(org, client_for, admin_user, policy):
    client = client_for(admin_user)
    address = page("escalationpolicy", "change", policy.pk)
    before = policy.updated_at
    response = client.post(address, shown(client.get(address), name="Renamed", repeat=2))
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.name, policy.repeat) == ("Renamed", 2)
    assert policy.updated_at > before
    assert AuditEvent.objects.for_org(org).filter(action="escalationpolicy.updated").exists()
    created = client.post(
        page("escalationpolicy", "add"),
        {
            "organization": org.pk,
            "name": "Nights",
            "description": "",
            "repeat": 0,
            "steps-TOTAL_FORMS": 1,
            "steps-INITIAL_FORMS": 0,
            "steps-0-position": 0,
            "steps-0-delay_minutes": 5,
        },
    )
    assert created.status_code == 302
    nights = EscalationPolicy.objects.for_org(org).get(name="Nights")
    assert list(nights.steps.values_list("delay_minutes", flat=True)) == [5]
    assert AuditEvent.objects.for_org(org).filter(action="escalationpolicy.created").count() == 2


def test_step_targets_are_edited_on_the_step(org, client_for, admin_user, member, policy):
    other = member(Role.RESPONDER, username="carol")
    client = client_for(admin_user)
    step = policy.steps.get(position=0)
    address = page("step", "change", step.pk)
    data = shown(client.get(address))
    data.update(
        {
            "targets-TOTAL_FORMS": 2,
            "targets-1-position": 1,
            "targets-1-user": other.pk,
            "targets-1-step": step.pk,
        }
    )
    response = client.post(address, data)
    assert response.status_code == 302, response.content
    assert [t.user.username for t in step.targets.order_by("position")] == ["boss", "carol"]
    both = {**data, "targets-1-team": "", "targets-1-schedule": ""}
    both["targets-1-user"] = ""
    refused = client.post(address, both)
    assert refused.status_code == 200  # a target names someone: shown again with the error
    assert Step.objects.for_org(org).get(pk=step.pk).targets.count() == 2


def test_another_organizations_admin_gets_404(other_org, member, client_for, policy):
    client = client_for(member(Role.ADMIN, organization=other_org))
    step = policy.steps.get(position=0)
    for address in (
        page("escalationpolicy", "change", policy.pk),
        page("escalationpolicy", "delete", policy.pk),
        page("escalationpolicy", "history", policy.pk),
        page("step", "change", step.pk),
        page("step", "delete", step.pk),
    ):
        assert client.get(address).status_code == 404, address
    assert b"Default" not in client.get(page("escalationpolicy", "changelist")).content


def test_deleting_goes_through_the_service(org, client_for, admin_user, policy):
    client = client_for(admin_user)
    response = client.post(page("escalationpolicy", "delete", policy.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not EscalationPolicy.objects.for_org(org).exists()
    assert AuditEvent.objects.for_org(org).filter(action="escalationpolicy.deleted").exists()
