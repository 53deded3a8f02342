"""The on-call report: hours from the schedules, night and weekend hours, pages and time
to acknowledge, per person and per team, in a constant number of queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse

from incidents import services as incident_services
from oncall.models import Layer, Page, Participant, Schedule
from tenancy import services
from tenancy.models import Role

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 00:00 UTC to Monday 2026-03-09 00:00 UTC: one week.
START, END = "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"


@pytest.fixture
def people(member):
    return [member(Role.RESPONDER, username=name) for name in ("alice", "bob")]


@pytest.fixture
def ops(org, people):
    team = services.team_create(organization=org, actor=None, slug="ops", name="Ops")
    for user in people:
        services.team_member_add(organization=org, actor=None, team=team, user=user)
    return team


def weekly(org, users, name="Primary"):
    """alice from Monday 2026-03-02 00:00 UTC for a week, then bob."""
    schedule = Schedule.objects.create(organization=org, name=name, time_zone="UTC")
    layer = Layer.objects.create(
        organization=org,
        schedule=schedule,
        name="Weeks",
        rotation_start=date(2026, 3, 2),
        handoff_time=time(0),
        shift_length=1,
        shift_unit=Layer.Unit.WEEKS,
    )
    for position, user in enumerate(users):
        Participant.objects.create(organization=org, layer=layer, user=user, position=position)
    return schedule


def page(org, user, at, acknowledged_after=None):
    incident = incident_services.incident_create(
        organization=org, actor=None, title="Down", reporter=user
    )
    return Page.objects.create(
        organization=org,
        incident=incident,
        recipient=user,
        reason="test",
        created_at=at,
        acknowledged_at=None if acknowledged_after is None else at + acknowledged_after,
    )


@pytest.fixture
def viewer(api_client_for, member):
    return api_client_for(member(Role.STAKEHOLDER))


def url(org):
    return reverse("oncall-report", kwargs={"org": org.slug})


def test_hours_pages_and_acknowledgements_per_person_and_team(org, people, ops, viewer):
    alice, bob = people
    weekly(org, people)
    monday_noon = datetime(2026, 3, 2, 12, tzinfo=UTC)
    page(org, alice, monday_noon, timedelta(minutes=4))
    page(org, alice, monday_noon + timedelta(hours=11), timedelta(minutes=10))  # 23:00
    page(org, alice, datetime(2026, 3, 7, 10, tzinfo=UTC))  # Saturday, never acknowledged
    page(org, bob, datetime(2026, 3, 1, 10, tzinfo=UTC))  # before the range
    response = viewer.get(url(org), {"start": START, "end": END})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["start"] == START
    by_name = {row["username"]: row for row in data["people"]}
    assert by_name["alice"]["hours_on_call"] == 168
    assert by_name["alice"]["hours_at_night"] == 7 * 9
    assert by_name["alice"]["hours_on_weekends"] == 48
    assert by_name["alice"]["pages"] == 3
    assert by_name["alice"]["pages_outside_working_hours"] == 2
    assert by_name["alice"]["median_minutes_to_acknowledge"] == 7
    assert by_name["bob"]["hours_on_call"] == 0
    assert by_name["bob"]["pages"] == 0
    assert by_name["bob"]["median_minutes_to_acknowledge"] is None
    assert data["teams"] == [
        {
            "team": "ops",
            **{k: v for k, v in by_name["alice"].items() if k not in ("username", "name")},
        }
    ]


def test_filtered_to_a_team_or_a_person(org, people, ops, member, viewer):
    weekly(org, people)
    member(Role.RESPONDER, username="carol")
    everyone = viewer.get(url(org), {"start": START, "end": END}).json()["people"]
    assert "carol" in {row["username"] for row in everyone}
    team = viewer.get(url(org), {"start": START, "end": END, "team": "ops"}).json()["people"]
    assert [row["username"] for row in team] == ["alice", "bob"]
    one = viewer.get(url(org), {"start": START, "end": END, "user": "bob"}).json()
    assert [row["username"] for row in one["people"]] == ["bob"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "yesterday", "end": END}, "start"),
        ({"start": START}, "end"),
        ({"start": END, "end": START}, "end"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"}, "end"),
        ({"start": START, "end": "9999-12-31T23:00:00Z"}, "end"),
        ({"start": START, "end": END, "team": "secret"}, "team"),
        ({"start": START, "end": END, "user": "stranger"}, "user"),
    ],
)
def test_bad_input_is_a_field_error(org, other_org, member, viewer, query, field):
    member(Role.RESPONDER, organization=other_org, username="stranger")
    services.team_create(organization=other_org, actor=None, slug="secret", name="Secret")
    response = viewer.get(url(org), query)
    assert response.status_code == 400
    assert field in response.json()


def test_another_organization_gets_404_and_reporters_403(
    org, other_org, people, member, api_client_for, api_key_for
):
    weekly(org, people)
    for principal in (
        member(Role.OWNER, organization=other_org),
        api_key_for(Role.OWNER, organization=other_org),
    ):
        response = api_client_for(principal).get(url(org), {"start": START, "end": END})
        assert response.status_code == 404
        assert b"alice" not in response.content
    reporter = api_client_for(member(Role.REPORTER))
    assert reporter.get(url(org), {"start": START, "end": END}).status_code == 403


def test_constant_queries_whatever_the_number_of_people(
    org, member, viewer, django_assert_max_num_queries
):
    def grow(count):
        users = [member(Role.RESPONDER) for _ in range(count)]
        team = services.team_create(
            organization=org, actor=None, slug=f"t{users[0].pk}", name=f"T{users[0].pk}"
        )
        for user in users:
            services.team_member_add(organization=org, actor=None, team=team, user=user)
            page(org, user, datetime(2026, 3, 3, 12, tzinfo=UTC), timedelta(minutes=1))
        weekly(org, users, name=f"S{users[0].pk}")

    grow(1)
    with django_assert_max_num_queries(20) as few:
        viewer.get(url(org), {"start": START, "end": END})
    grow(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer.get(url(org), {"start": START, "end": END})
    assert sum(row["pages"] for row in response.json()["people"]) == 21
