"""Escalation policies in the portal: the list, and a policy's page with its steps and the
preview of whom it pages when, resolved through the schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.urls import reverse

from incidents import services as incident_services
from oncall.services import policies, schedules
from tenancy.models import Role

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup(org, member):
    """A daily rotation of alice and bob (09:00 Berlin) and a policy: the schedule, then
    carol after 30 minutes, once more after that; the policy pages for the web service."""
    alice = member(Role.RESPONDER, username="alice")
    member(Role.RESPONDER, username="bob")
    carol = member(Role.ADMIN, username="carol")
    schedule = schedules.schedule_create(
        organization=org,
        actor=carol,
        name="Primary",
        time_zone="Europe/Berlin",
        layers=[
            {
                "name": "Daily",
                "rotation_start": date(2026, 3, 23),
                "handoff_time": time(9),
                "shift_length": 1,
                "shift_unit": "days",
                "participants": ["alice", "bob"],
            }
        ],
    )
    policy = policies.policy_create(
        organization=org,
        actor=carol,
        name="Web on-call",
        repeat=1,
        steps=[
            {"delay_minutes": 30, "schedules": [schedule.pk]},
            {"delay_minutes": 15, "users": ["carol"]},
        ],
    )
    web = incident_services.service_create(
        organization=org, actor=carol, slug="web", name="Web", escalation_policy=policy
    )
    return {"alice": alice, "carol": carol, "policy": policy, "web": web}


def list_url(org):
    return reverse("oncall:policies", args=[org.slug])


def detail_url(org, policy):
    return reverse("oncall:policy", args=[org.slug, policy.pk])


@time_machine.travel(MONDAY, tick=False)
def test_the_list_names_the_services_using_each_policy(org, client_for, setup):
    page = client_for(setup["alice"]).get(list_url(org))
    assert page.status_code == 200
    [(policy, services, teams)] = page.context["rows"]
    assert (policy.name, [s.slug for s in services], teams) == ("Web on-call", ["web"], [])
    assert b"Web on-call" in page.content


@time_machine.travel(MONDAY, tick=False)
def test_the_preview_pages_whoever_is_on_call_then_and_repeats(org, client_for, setup):
    client = client_for(setup["alice"])
    page = client.get(detail_url(org, setup["policy"]))
    assert page.status_code == 200
    timeline = [(e.at, e.step, e.repeat, e.users) for e in page.context["entries"]]
    assert timeline == [
        (MONDAY, 0, 0, ["alice"]),
        (datetime(2026, 3, 23, 12, 30, tzinfo=UTC), 1, 0, ["carol"]),
        (datetime(2026, 3, 23, 12, 45, tzinfo=UTC), 0, 1, ["alice"]),
        (datetime(2026, 3, 23, 13, 15, tzinfo=UTC), 1, 1, ["carol"]),
    ]
    # The next morning, in the organization's zone (UTC), bob has the rotation.
    later = client.get(detail_url(org, setup["policy"]), {"at": "2026-03-24T10:00"})
    assert later.context["entries"][0].users == ["bob"]
    assert later.context["at"] == datetime(2026, 3, 24, 10, 0, tzinfo=UTC)


@time_machine.travel(MONDAY, tick=False)
def test_a_bad_moment_is_said_and_the_preview_starts_now(org, client_for, setup):
    page = client_for(setup["alice"]).get(detail_url(org, setup["policy"]), {"at": "soon"})
    assert page.status_code == 200
    assert page.context["form"].errors["at"]
    assert page.context["at"] == MONDAY


def test_reporters_cannot_see_policies(org, member, client_for, setup):
    client = client_for(member(Role.REPORTER))
    assert client.get(list_url(org)).status_code == 403
    assert client.get(detail_url(org, setup["policy"])).status_code == 403


def test_another_organizations_policy_is_not_found(org, other_org, member, client_for, setup):
    stranger = client_for(member(Role.ADMIN, organization=other_org))
    for url in (list_url(org), detail_url(org, setup["policy"])):
        response = stranger.get(url)
        assert response.status_code == 404
        assert b"Web on-call" not in response.content
    own = reverse("oncall:policy", args=[other_org.slug, setup["policy"].pk])
    assert stranger.get(own).status_code == 404


@time_machine.travel(MONDAY, tick=False)
def test_the_pages_take_the_same_queries_for_1_or_10_policies(
    org, client_for, setup, django_assert_max_num_queries
):
    client = client_for(setup["carol"])
    with django_assert_max_num_queries(30) as one:
        client.get(list_url(org))
    with django_assert_max_num_queries(40) as detail:
        client.get(detail_url(org, setup["policy"]))
    for index in range(9):
        policies.policy_create(
            organization=org,
            actor=None,
            name=f"P{index}",
            steps=[{"delay_minutes": 5, "users": ["alice", "carol"]}] * 3,
        )
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(client.get(list_url(org)).context["rows"]) == 10
    big = policies.policy_create(
        organization=org,
        actor=None,
        name="Big",
        repeat=3,
        steps=[{"delay_minutes": 5, "users": ["alice", "carol"]}] * 5,
    )
    with django_assert_max_num_queries(len(detail.captured_queries)):
        client.get(detail_url(org, big))
