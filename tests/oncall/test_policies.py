"""Escalation policies in the API: written whole with their steps, read by every role that
sees on-call, changed by admins only, and never across organizations."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import services as incident_services
from oncall.models import EscalationPolicy, Schedule, ServicePolicy, Step, StepTarget, TeamPolicy
from oncall.services import policies
from tenancy import services
from tenancy.models import AuditEvent, Role
from tests.conftest import see

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(member):
    return member(Role.RESPONDER, username="alice")


@pytest.fixture
def ops(org, alice, member):
    team = services.team_create(organization=org, actor=None, slug="ops", name="Ops")
    services.team_member_add(organization=org, actor=None, team=team, user=alice)
    return team


@pytest.fixture
def primary(org):
    return Schedule.objects.create(organization=org, name="Primary")


@pytest.fixture
def admin(api_client_for, member):
    return api_client_for(member(Role.ADMIN))


def url(org, pk=None):
    if pk is None:
        return reverse("escalation-policy-list", kwargs={"org": org.slug})
    return reverse("escalation-policy-detail", kwargs={"org": org.slug, "policy": pk})


def body(**extra):
    return {
        "name": "Default",
        "repeat": 1,
        "steps": [
            {"delay_minutes": 5, "users": ["alice"]},
            {"delay_minutes": 15, "round_robin": True, "teams": ["ops"]},
        ],
        **extra,
    }


def test_create_stores_the_steps_in_order_and_shows_them(org, admin, ops, primary):
    data = body()
    data["steps"][1]["schedules"] = [primary.pk]
    response = admin.post(url(org), data, format="json")
    assert response.status_code == 201, response.content
    shown = response.json()
    assert shown["steps"] == [
        {
            "delay_minutes": 5,
            "round_robin": False,
            "users": ["alice"],
            "teams": [],
            "schedules": [],
        },
        {
            "delay_minutes": 15,
            "round_robin": True,
            "users": [],
            "teams": ["ops"],
            "schedules": [primary.pk],
        },
    ]
    assert shown["services"] == []
    assert shown["teams"] == []
    policy = EscalationPolicy.objects.for_org(org).get(pk=shown["id"])
    assert list(policy.steps.values_list("position", "delay_minutes")) == [(0, 5), (1, 15)]
    second = policy.steps.get(position=1)
    assert [(t.team_id, t.schedule_id) for t in second.targets.all()] == [
        (ops.pk, None),
        (None, primary.pk),
    ]
    assert AuditEvent.objects.for_org(org).filter(action="escalationpolicy.created").exists()
    assert admin.get(url(org, policy.pk)).json() == shown


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": [{"users": ["nobody"]}]}, "steps"),
        ({"steps": [{"teams": ["secret"]}]}, "steps"),
        ({"steps": [{"users": ["stranger"]}]}, "steps"),
        ({"steps": [{"schedules": ["theirs"]}]}, "steps"),
        ({"steps": [{"users": []}]}, "steps"),
        ({"steps": [{"users": ["alice"], "delay_minutes": 0}]}, "steps"),
        ({"steps": []}, "steps"),
        ({"repeat": 10}, "repeat"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_a_field_error_and_stores_nothing(
    org, other_org, admin, ops, member, change, field
):
    member(Role.RESPONDER, organization=other_org, username="stranger")
    services.team_create(organization=other_org, actor=None, slug="secret", name="Secret")
    theirs = Schedule.objects.create(organization=other_org, name="Theirs")
    change = {
        k: [{**s, "schedules": [theirs.pk]} if s.get("schedules") == ["theirs"] else s for s in v]
        if k == "steps"
        else v
        for k, v in change.items()
    }
    response = admin.post(url(org), body(**change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not EscalationPolicy.objects.for_org(org).exists()
    assert not Step.objects.for_org(org).exists()


@pytest.mark.parametrize("role", [Role.STAKEHOLDER, Role.REPORTER])
def test_someone_who_cannot_acknowledge_is_refused_as_a_target(org, admin, ops, member, role):
    member(role, username="watcher")
    response = admin.post(url(org), body(steps=[{"users": ["watcher"]}]), format="json")
    assert response.status_code == 400
    assert "watcher cannot acknowledge a page" in str(response.json()["steps"])
    assert not EscalationPolicy.objects.for_org(org).exists()


def test_a_duplicate_name_is_a_conflict(org, admin, ops):
    assert admin.post(url(org), body(), format="json").status_code == 201
    response = admin.post(url(org), body(), format="json")
    assert response.status_code == 409
    assert "name" in response.json()


def test_patch_with_steps_replaces_them_and_bumps_updated_at(org, admin, ops, alice):
    created = admin.post(url(org), body(), format="json").json()
    response = admin.patch(
        url(org, created["id"]), {"steps": [{"delay_minutes": 3, "teams": ["ops"]}]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["steps"] == [
        {"delay_minutes": 3, "round_robin": False, "users": [], "teams": ["ops"], "schedules": []}
    ]
    assert response.json()["updated_at"] > created["updated_at"]
    assert Step.objects.for_org(org).count() == 1
    assert StepTarget.objects.for_org(org).count() == 1
    renamed = admin.patch(url(org, created["id"]), {"name": "Nights"}, format="json").json()
    assert renamed["name"] == "Nights"
    assert len(renamed["steps"]) == 1


def test_steps_at_the_same_positions_keep_their_rows_and_round_robin_turns(org, admin, ops, alice):
    created = admin.post(url(org), body(), format="json").json()
    see(org)
    before = list(Step.objects.for_org(org).order_by("position").values_list("pk", flat=True))
    Step.objects.for_org(org).filter(pk=before[1]).update(round_robin_next=7)
    steps = [
        {"delay_minutes": 1, "users": ["alice"]},
        {"delay_minutes": 2, "round_robin": True, "teams": ["ops"], "users": ["alice"]},
        {"delay_minutes": 3, "teams": ["ops"]},
    ]
    assert admin.patch(url(org, created["id"]), {"steps": steps}, format="json").status_code == 200
    after = list(
        Step.objects.for_org(org).order_by("position").values_list("pk", "round_robin_next")
    )
    assert [pk for pk, _ in after[:2]] == before, "running escalations' snapshots name them"
    assert after[1][1] == 7
    shorter = {"steps": steps[:1]}
    assert admin.patch(url(org, created["id"]), shorter, format="json").status_code == 200
    assert list(Step.objects.for_org(org).values_list("pk", flat=True)) == before[:1]
    assert StepTarget.objects.for_org(org).count() == 1


def test_a_refused_patch_leaves_the_steps_as_they_were(org, admin, ops, alice):
    created = admin.post(url(org), body(), format="json").json()
    response = admin.patch(
        url(org, created["id"]),
        {"name": "Renamed", "steps": [{"users": ["nobody"]}]},
        format="json",
    )
    assert response.status_code == 400
    assert admin.get(url(org, created["id"])).json() == created


def test_delete_in_use_removes_the_links(org, admin, ops, alice):
    created = admin.post(url(org), body(), format="json").json()
    policy = EscalationPolicy.objects.for_org(org).get(pk=created["id"])
    service = incident_services.service_create(
        organization=org, actor=None, slug="web", name="Web", escalation_policy=policy
    )
    services.team_update(organization=org, actor=None, team=ops, escalation_policy=policy)
    shown = admin.get(url(org, policy.pk)).json()
    assert (shown["services"], shown["teams"]) == (["web"], ["ops"])
    assert admin.delete(url(org, policy.pk)).status_code == 204
    assert not EscalationPolicy.objects.for_org(org).exists()
    assert not ServicePolicy.objects.for_org(org).exists()
    assert not TeamPolicy.objects.for_org(org).exists()
    assert policies.policy_of(type(service).objects.for_org(org).get()) is None


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.STAKEHOLDER])
def test_responders_and_stakeholders_read_but_do_not_write(
    org, admin, alice, member, api_client_for, role
):
    created = admin.post(url(org), body(steps=[{"users": ["alice"]}]), format="json").json()
    client = api_client_for(member(role))
    assert client.get(url(org)).status_code == 200
    assert client.get(url(org, created["id"])).status_code == 200
    assert client.post(url(org), body(name="Mine"), format="json").status_code == 403
    assert client.patch(url(org, created["id"]), {"name": "X"}, format="json").status_code == 403
    assert client.delete(url(org, created["id"])).status_code == 403


def test_reporters_see_no_policies(org, member, api_client_for):
    client = api_client_for(member(Role.REPORTER))
    assert client.get(url(org)).status_code == 403


@pytest.mark.parametrize("credential", ["session", "api_key"])
def test_another_organization_gets_404_and_sees_nothing(
    org, other_org, admin, alice, member, api_key_for, api_client_for, credential
):
    created = admin.post(url(org), body(steps=[{"users": ["alice"]}]), format="json").json()
    principal = (
        member(Role.OWNER, organization=other_org)
        if credential == "session"
        else api_key_for(Role.OWNER, organization=other_org)
    )
    client = api_client_for(principal)
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(url(org, created["id"]), {}, format="json")
        assert response.status_code == 404
    assert client.get(url(org)).status_code == 404
    assert client.post(url(org), body(), format="json").status_code == 404
    # Its own organization's URL with our policy's id: as if it did not exist.
    assert client.get(url(other_org, created["id"])).status_code == 404
    assert b"alice" not in client.get(url(other_org)).content
    see(org)
    assert EscalationPolicy.objects.for_org(org).get().name == "Default"


def test_the_list_runs_a_constant_number_of_queries(
    org, admin, alice, ops, member, django_assert_max_num_queries
):
    def make(count):
        for index in range(count):
            policy = policies.policy_create(
                organization=org,
                actor=None,
                name=f"P{EscalationPolicy.objects.for_org(org).count()}-{index}",
                steps=[{"users": ["alice"]}, {"teams": ["ops"]}],
            )
            service = incident_services.service_create(
                organization=org, actor=None, slug=f"s{policy.pk}", name=f"S{policy.pk}"
            )
            policies.service_policy_set(organization=org, actor=None, service=service, value=policy)

    make(1)
    with django_assert_max_num_queries(20) as one:
        response = admin.get(url(org))
    assert len(response.json()["results"]) == 1
    make(30)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin.get(url(org), {"page_size": 50})
    results = response.json()["results"]
    assert len(results) == 31
    assert all(len(r["steps"]) == 2 and len(r["services"]) == 1 for r in results)
