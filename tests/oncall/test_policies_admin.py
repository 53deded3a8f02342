"""Escalation policies in the admin: pages render, saves go through the services, and
another organization's administrator gets 404."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from oncall.models import EscalationPolicy, Step
from oncall.services import policies
from tenancy import services as tenancy_services
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
    for address in (
        page("escalationpolicy", "changelist"),
        page("escalationpolicy", "add"),
        page("escalationpolicy", "change", policy.pk),
    ):
        response = client.get(address)
        assert response.status_code == 200, address
    assert b"boss" in client.get(page("escalationpolicy", "change", policy.pk)).content


def steps_of(policy) -> list[dict]:
    policy = EscalationPolicy.objects.for_org(policy.organization_id).get(pk=policy.pk)
    return [policies.describe_step(step) for step in policy.steps.order_by("position")]


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
    assert len(steps_of(policy)) == 2, "steps left as they were are kept"


def new_policy(org, **rows) -> dict:
    data = {
        "organization": org.pk,
        "name": "Nights",
        "description": "",
        "repeat": 0,
        "steps-TOTAL_FORMS": len(rows),
        "steps-INITIAL_FORMS": 0,
    }
    for index, row in enumerate(rows.values()):
        data.update({f"steps-{index}-{field}": value for field, value in row.items()})
    return data


def test_a_policy_is_added_with_its_steps_and_whom_they_page(
    org, client_for, admin_user, member, make_schedule
):
    carol = member(Role.RESPONDER, username="carol")
    team = tenancy_services.team_create(organization=org, actor=None, slug="db", name="DB")
    schedule = make_schedule(layers=[{"users": [carol]}], name="Primary")
    client = client_for(admin_user)
    created = client.post(
        page("escalationpolicy", "add"),
        new_policy(
            org,
            second={"position": 2, "delay_minutes": 15, "teams": [team.pk], "round_robin": "on"},
            first={"position": 1, "delay_minutes": 5, "users": [carol.pk, admin_user.pk]},
            third={"position": 3, "delay_minutes": 30, "schedules": [schedule.pk]},
        ),
    )
    assert created.status_code == 302, created.context and created.context["errors"]
    nights = EscalationPolicy.objects.for_org(org).get(name="Nights")
    nobody = {"users": [], "teams": [], "schedules": []}
    assert steps_of(nights) == [
        {**nobody, "delay_minutes": 5, "round_robin": False, "users": ["boss", "carol"]},
        {**nobody, "delay_minutes": 15, "round_robin": True, "teams": ["db"]},
        {**nobody, "delay_minutes": 30, "round_robin": False, "schedules": [schedule.pk]},
    ]
    [audit] = AuditEvent.objects.for_org(org).filter(action="escalationpolicy.created")
    assert len(audit.after["steps"]) == 3
    shown_again = client.get(page("escalationpolicy", "change", nights.pk))
    first = shown_again.context["inline_admin_formsets"][0].formset.forms[0]
    assert sorted(first["users"].value()) == sorted([carol.pk, admin_user.pk])


def test_a_step_that_pages_nobody_is_refused_and_nothing_is_stored(org, client_for, admin_user):
    client = client_for(admin_user)
    refused = client.post(
        page("escalationpolicy", "add"),
        new_policy(org, first={"position": 0, "delay_minutes": 5}),
    )
    assert refused.status_code == 200
    [step_errors] = refused.context["inline_admin_formsets"][0].formset.errors
    assert "Name whom the step pages" in str(step_errors)
    assert not EscalationPolicy.objects.for_org(org).filter(name="Nights").exists()


def test_steps_are_edited_reordered_and_removed_in_place(
    org, client_for, admin_user, member, policy
):
    carol = member(Role.RESPONDER, username="carol")
    client = client_for(admin_user)
    address = page("escalationpolicy", "change", policy.pk)
    data = shown(client.get(address))
    data.update(
        {
            "steps-0-position": 5,  # the first step goes last
            "steps-0-users": [carol.pk],
            "steps-1-DELETE": "on",
            "steps-TOTAL_FORMS": 3,
            "steps-2-position": 1,
            "steps-2-delay_minutes": 20,
            "steps-2-users": [admin_user.pk],
        }
    )
    response = client.post(address, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert [(step["users"], step["delay_minutes"]) for step in steps_of(policy)] == [
        (["boss"], 20),
        (["carol"], 30),
    ]
    log = LogEntry.objects.filter(
        content_type__model="escalationpolicy", object_id=str(policy.pk)
    ).latest("action_time")
    assert "steps" in log.get_change_message()


def test_only_the_organizations_people_teams_and_schedules_are_offered(
    org, other_org, client_for, admin_user, member, policy, make_schedule
):
    stranger = member(Role.RESPONDER, organization=other_org, username="stranger")
    tenancy_services.team_create(organization=other_org, actor=None, slug="theirs", name="Theirs")
    make_schedule(layers=[{"users": [stranger]}], organization=other_org, name="Their rota")
    client = client_for(admin_user)
    for address in (page("escalationpolicy", "add"), page("escalationpolicy", "change", policy.pk)):
        content = client.get(address).content
        for name in (b"stranger", b"Theirs", b"Their rota"):
            assert name not in content, (address, name)
    address = page("escalationpolicy", "change", policy.pk)
    refused = client.post(address, shown(client.get(address), **{"steps-0-users": [stranger.pk]}))
    assert refused.status_code == 200
    assert steps_of(policy)[0]["users"] == ["boss"]


def test_another_organizations_admin_gets_404(other_org, member, client_for, policy):
    client = client_for(member(Role.ADMIN, organization=other_org))
    for address in (
        page("escalationpolicy", "change", policy.pk),
        page("escalationpolicy", "delete", policy.pk),
        page("escalationpolicy", "history", policy.pk),
    ):
        assert client.get(address).status_code == 404, address
    assert b"Default" not in client.get(page("escalationpolicy", "changelist")).content


def test_deleting_goes_through_the_service(org, client_for, admin_user, policy):
    client = client_for(admin_user)
    response = client.post(page("escalationpolicy", "delete", policy.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not EscalationPolicy.objects.for_org(org).exists()
    assert AuditEvent.objects.for_org(org).filter(action="escalationpolicy.deleted").exists()


def test_editing_one_step_keeps_the_others_rows_turns_and_order(
    org, client_for, admin_user, member
):
    for name in ("carol", "alice"):
        member(Role.RESPONDER, username=name)
    policy = policies.policy_create(
        organization=org,
        actor=None,
        name="Turns",
        steps=[
            {"delay_minutes": 5, "round_robin": True, "users": ["carol", "boss", "alice"]},
            {"delay_minutes": 10, "users": ["boss"]},
        ],
    )
    first = policy.steps.get(position=0)
    Step.objects.for_org(org).filter(pk=first.pk).update(round_robin_next=4)
    client = client_for(admin_user)
    address = page("escalationpolicy", "change", policy.pk)
    response = client.post(address, shown(client.get(address), **{"steps-1-delay_minutes": 20}))
    assert response.status_code == 302, response.context and response.context["errors"]
    kept = Step.objects.for_org(org).get(pk=first.pk)
    assert kept.round_robin_next == 4
    assert steps_of(policy)[0]["users"] == ["carol", "boss", "alice"], "the turn order stays"
    assert steps_of(policy)[1]["delay_minutes"] == 20


def test_an_operator_of_two_organizations_adds_a_policy_naming_only_its_people(
    org, other_org, client_for, member, operator
):
    member(Role.RESPONDER, username="ours")
    theirs = member(Role.RESPONDER, organization=other_org, username="theirs")
    member(Role.STAKEHOLDER, username="watcher")
    client = client_for(operator)
    add = client.get(page("escalationpolicy", "add"))
    users = add.context["inline_admin_formsets"][0].formset.empty_form.fields["users"]
    offered = {user.username for user in users.queryset}
    assert {"ours", "theirs"} <= offered, "either organization's, until one is chosen"
    assert "watcher" not in offered, "cannot acknowledge a page"
    refused = client.post(
        page("escalationpolicy", "add"),
        new_policy(org, first={"position": 0, "delay_minutes": 5, "users": [theirs.pk]}),
    )
    assert refused.status_code == 200
    [row_errors] = refused.context["inline_admin_formsets"][0].formset.errors
    assert "users" in row_errors
    assert not EscalationPolicy.objects.for_org(org).filter(name="Nights").exists()
