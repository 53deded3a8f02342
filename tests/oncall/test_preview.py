"""The preview of a policy: when each repeat and step would page, and whom."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from django.urls import reverse

from incidents import services as incident_services
from oncall.models import Layer, Participant, Schedule
from oncall.preview import timeline
from oncall.services import policies
from tenancy import services
from tenancy.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(member):
    return [member(Role.RESPONDER, username=name) for name in ("alice", "bob", "carol")]


@pytest.fixture
def ops(org, people):
    team = services.team_create(organization=org, actor=None, slug="ops", name="Ops")
    for user in people[1:]:
        services.team_member_add(organization=org, actor=None, team=team, user=user)
    return team


@pytest.fixture
def policy(org, ops):
    return policies.policy_create(
        organization=org,
        actor=None,
        name="Default",
        repeat=1,
        steps=[
            {"delay_minutes": 5, "users": ["alice"]},
            {"delay_minutes": 30, "users": ["alice"], "teams": ["ops"]},
        ],
    )


@pytest.fixture
def responder(api_client_for, member):
    return api_client_for(member(Role.RESPONDER))


def url(org, policy_id):
    return reverse("escalation-policy-preview", kwargs={"org": org.slug, "policy": policy_id})


def test_the_timeline_adds_the_delays_and_resolves_teams(org, policy, responder):
    response = responder.get(url(org, policy.pk), {"at": "2026-03-02T10:00:00Z"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["policy"] == {"id": policy.pk, "name": "Default"}
    assert data["at"] == "2026-03-02T10:00:00Z"
    assert [(e["repeat"], e["step"], e["at"]) for e in data["entries"]] == [
        (0, 0, "2026-03-02T10:00:00Z"),
        (0, 1, "2026-03-02T10:05:00Z"),
        (1, 0, "2026-03-02T10:35:00Z"),
        (1, 1, "2026-03-02T10:40:00Z"),
    ]
    assert data["entries"][0]["users"] == ["alice"]
    assert data["entries"][1]["users"] == ["alice", "bob", "carol"]
    assert data["entries"][1]["targets"] == ["user alice", "team ops"]


def test_a_round_robin_step_pages_the_one_whose_turn_it_is(org, ops):
    policy = policies.policy_create(
        organization=org,
        actor=None,
        name="RR",
        steps=[{"round_robin": True, "teams": ["ops"]}],
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert [e.users for e in timeline(organization=org, policy=policy, at=at)] == [["bob"]]
    policy.steps.update(round_robin_next=1)
    assert [e.users for e in timeline(organization=org, policy=policy, at=at)] == [["carol"]]


def test_with_a_service_the_policy_that_pages_for_it(org, policy, ops, responder):
    other = policies.policy_create(
        organization=org, actor=None, name="Team's", steps=[{"users": ["bob"]}]
    )
    services.team_update(organization=org, actor=None, team=ops, escalation_policy=other)
    service = incident_services.service_create(
        organization=org, actor=None, slug="web", name="Web", team=ops
    )
    data = responder.get(url(org, policy.pk), {"service": "web"}).json()
    assert data["policy"]["name"] == "Team's"
    assert data["entries"][0]["users"] == ["bob"]
    policies.service_policy_set(organization=org, actor=None, service=service, value=policy)
    assert responder.get(url(org, policy.pk), {"service": "web"}).json()["policy"]["name"] == (
        "Default"
    )


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01T00:00:00Z", "9999-12-31T23:00:00Z"])
def test_a_bad_time_is_a_field_error(org, policy, responder, at):
    response = responder.get(url(org, policy.pk), {"at": at})
    assert response.status_code == 400
    assert "at" in response.json()


def test_another_organization_gets_404(org, other_org, policy, member, api_client_for, make_org):
    incident_services.service_create(organization=other_org, actor=None, slug="secret", name="S")
    stranger = api_client_for(member(Role.OWNER, organization=other_org))
    assert stranger.get(url(org, policy.pk)).status_code == 404
    assert stranger.get(url(other_org, policy.pk)).status_code == 404
    ours = api_client_for(member(Role.RESPONDER))
    assert ours.get(url(org, policy.pk), {"service": "secret"}).status_code == 404
    assert ours.get(url(org, policy.pk), {"service": "nothing"}).status_code == 404


def test_reporters_cannot_preview(org, policy, member, api_client_for):
    assert api_client_for(member(Role.REPORTER)).get(url(org, policy.pk)).status_code == 403


def test_a_schedule_pages_whoever_is_on_call_when_the_step_pages(org, people):
    schedule = Schedule.objects.create(organization=org, name="Primary", time_zone="UTC")
    layer = Layer.objects.create(
        organization=org,
        schedule=schedule,
        name="Days",
        rotation_start=date(2026, 1, 1),
        handoff_time=time(9),
        shift_length=1,
        shift_unit=Layer.Unit.DAYS,
    )
    for position, user in enumerate(people[:2]):
        Participant.objects.create(organization=org, layer=layer, user=user, position=position)
    policy = policies.policy_create(
        organization=org,
        actor=None,
        name="Sched",
        steps=[{"delay_minutes": 60, "schedules": [schedule.pk]}, {"schedules": [schedule.pk]}],
    )
    # 2026-01-01 09:00 starts alice's shift, 2026-01-02 09:00 bob's.
    entries = timeline(organization=org, policy=policy, at=datetime(2026, 1, 2, 8, 30, tzinfo=UTC))
    assert [(e.at.hour, e.at.minute, e.users) for e in entries] == [
        (8, 30, ["alice"]),
        (9, 30, ["bob"]),
    ]
    assert entries[0].targets == ["schedule Primary"]


def test_only_responders_are_previewed_as_the_engine_pages_them(org, policy, ops, member):
    watcher = member(Role.STAKEHOLDER, username="watcher")
    services.team_member_add(organization=org, actor=None, team=ops, user=watcher)
    entries = timeline(organization=org, policy=policy, at=datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert entries[1].users == ["alice", "bob", "carol"]
