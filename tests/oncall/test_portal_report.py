"""The on-call report in the portal: hours and pages per person and team over a range."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse

from oncall.services import schedules
from tenancy import services as tenancy_services
from tenancy.models import Role

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def rota(org, member):
    """alice and bob take weekly turns since 2 March; both are in the platform team."""
    people = [member(Role.RESPONDER, username=name) for name in ("alice", "bob")]
    team = tenancy_services.team_create(organization=org, actor=None, slug="platform", name="P")
    for person in people:
        tenancy_services.team_member_add(organization=org, actor=None, team=team, user=person)
    schedules.schedule_create(
        organization=org,
        actor=None,
        name="Primary",
        layers=[
            {
                "name": "Weekly",
                "rotation_start": date(2026, 3, 2),
                "shift_unit": "weeks",
                "participants": ["alice", "bob"],
            }
        ],
    )
    return people


def url(org):
    return reverse("oncall:report", args=[org.slug])


@time_machine.travel(NOW, tick=False)
def test_the_last_four_weeks_by_default_split_fairly(org, client_for, rota):
    page = client_for(rota[0]).get(url(org))
    assert page.status_code == 200
    rows = {row["username"]: row for row in page.context["report"]["people"]}
    # From 2 March 12:00 UTC (four weeks back, to tomorrow) each has two weeks, give or take
    # the hours before 09:00 on 2 March and after now.
    assert rows["alice"]["hours_on_call"] == pytest.approx(rows["bob"]["hours_on_call"], abs=48)
    assert rows["alice"]["hours_on_call"] > 300
    assert [team["team"] for team in page.context["report"]["teams"]] == ["platform"]
    assert b"On-call report" in page.content


def test_a_bad_range_is_said_on_the_form(org, client_for, rota):
    client = client_for(rota[0])
    for query in (
        {"start": "2026-03-10", "end": "2026-03-01"},
        {"start": "2026-01-01", "end": "2026-06-01"},
        {"start": "0001-01-01", "end": "0001-01-05"},
        {"start": "soon"},
    ):
        page = client.get(url(org), query)
        assert page.status_code == 200, query
        assert page.context["report"] is None, query
        assert page.context["form"].errors, query


def test_only_members_who_see_schedules_get_it(org, other_org, member, client_for, rota):
    assert client_for(member(Role.REPORTER)).get(url(org)).status_code == 403
    stranger = client_for(member(Role.OWNER, organization=other_org))
    response = stranger.get(url(org))
    assert response.status_code == 404
    assert b"alice" not in response.content


@time_machine.travel(NOW, tick=False)
def test_the_report_takes_the_same_queries_for_2_or_12_people(
    org, member, client_for, rota, django_assert_max_num_queries
):
    client = client_for(rota[0])
    with django_assert_max_num_queries(40) as few:
        client.get(url(org))
    for _ in range(10):
        member(Role.RESPONDER)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(url(org)).context["report"]["people"]) == 12
