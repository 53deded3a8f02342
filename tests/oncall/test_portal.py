"""The on-call pages of the portal: who is on call now, the viewer's coming shifts, and a
schedule's page with its calendar in the schedule's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.urls import reverse

from oncall.models import Layer, Override, Participant, Schedule
from tenancy.models import Role

pytestmark = pytest.mark.django_db

# A Monday in Berlin's winter time; DST starts on Sunday 29 March 2026.
MONDAY = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def schedule_of(member):
    """schedule_of(org, *users, name=…, zone=…) -> a schedule with one daily rotation of
    ``users`` handing off at 09:00 local time since Monday 23 March 2026."""

    def make(org, *users, name="Primary", zone="Europe/Berlin"):
        schedule = Schedule.objects.create(organization=org, name=name, time_zone=zone)
        layer = Layer.objects.create(
            organization=org,
            schedule=schedule,
            name="Daily",
            rotation_start=date(2026, 3, 23),
            handoff_time=time(9),
            shift_length=1,
            shift_unit=Layer.Unit.DAYS,
        )
        for position, user in enumerate(users):
            Participant.objects.create(organization=org, layer=layer, user=user, position=position)
        return schedule

    return make


def now_url(org):
    return reverse("oncall:now", args=[org.slug])


def schedule_url(org, schedule):
    return reverse("oncall:schedule", args=[org.slug, schedule.pk])


@time_machine.travel(MONDAY, tick=False)
def test_a_responder_sees_who_is_on_call_and_their_own_shifts(org, member, client_for, schedule_of):
    alice = member(Role.RESPONDER, username="alice")
    bob = member(Role.RESPONDER, username="bob")
    schedule_of(org, alice, bob)
    page = client_for(bob).get(now_url(org))
    assert page.status_code == 200
    [(_, oncall)] = page.context["rows"]
    assert [user.username for user in oncall.users] == ["alice"]
    assert oncall.until == datetime(2026, 3, 24, 8, 0, tzinfo=UTC)  # 09:00 Berlin (UTC+1)
    # Bob's next shifts: Tuesday, Thursday, … — every other day, for two weeks.
    starts = [segment.start for _, segment in page.context["mine"]]
    assert starts[0] == datetime(2026, 3, 24, 8, 0, tzinfo=UTC)
    assert len(starts) == 7
    assert b"alice" in page.content
    home = client_for(alice).get(reverse("portal:home", args=[org.slug]))
    [card] = [p for p in home.context["panels"] if p.template_name == "oncall/_home_card.html"]
    assert [schedule.name for schedule in card.context["on_call"]] == ["Primary"]


@time_machine.travel(MONDAY, tick=False)
def test_the_calendar_keeps_the_local_handoff_across_the_dst_change(
    org, member, client_for, schedule_of
):
    alice = member(Role.RESPONDER, username="alice")
    bob = member(Role.RESPONDER, username="bob")
    schedule = schedule_of(org, alice, bob)
    page = client_for(alice).get(schedule_url(org, schedule))
    assert page.status_code == 200
    days = page.context["calendar"]
    assert len(days) == 28
    for day in days[1:]:  # every day hands off at 09:00 Berlin time, before and after DST
        handoffs = [shift.start.time() for shift in day.shifts if not shift.starts_before]
        assert handoffs == [time(9)], day.day
    sunday = next(day for day in days if day.day == date(2026, 3, 29))
    assert [
        (s.start.utcoffset().seconds // 3600, s.end.utcoffset().seconds // 3600)
        for s in sunday.shifts
    ] == [
        (1, 2),  # 00:00 CET to 09:00 CEST
        (2, 2),
    ]


@time_machine.travel(MONDAY, tick=False)
def test_an_override_shows_and_wins(org, member, client_for, schedule_of):
    alice = member(Role.RESPONDER, username="alice")
    carol = member(Role.RESPONDER, username="carol")
    schedule = schedule_of(org, alice)
    Override.objects.create(
        organization=org,
        schedule=schedule,
        user=carol,
        start=datetime(2026, 3, 23, 11, 0, tzinfo=UTC),
        end=datetime(2026, 3, 23, 15, 0, tzinfo=UTC),
    )
    page = client_for(alice).get(schedule_url(org, schedule))
    assert [user.username for user in page.context["now"].users] == ["carol"]
    assert page.context["now"].until == datetime(2026, 3, 23, 15, 0, tzinfo=UTC)
    assert [o.user.username for o in page.context["overrides"]] == ["carol"]


def test_reporters_neither_see_the_pages_nor_the_link(org, member, client_for, schedule_of):
    reporter = member(Role.REPORTER)
    schedule = schedule_of(org, member(Role.RESPONDER))
    client = client_for(reporter)
    assert client.get(now_url(org)).status_code == 403
    assert client.get(schedule_url(org, schedule)).status_code == 403
    home = client.get(reverse("portal:home", args=[org.slug]))
    assert now_url(org).encode() not in home.content
    responder = client_for(member(Role.STAKEHOLDER))
    assert now_url(org).encode() in responder.get(reverse("portal:home", args=[org.slug])).content


def test_another_organizations_schedule_and_pages_are_not_found(
    org, other_org, member, client_for, schedule_of
):
    ours = schedule_of(org, member(Role.RESPONDER, username="alice"), name="Secret rota")
    stranger = member(Role.ADMIN, organization=other_org)
    theirs = schedule_of(other_org, stranger)
    client = client_for(stranger)
    for url in (now_url(org), schedule_url(org, ours), schedule_url(other_org, ours)):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Secret rota" not in response.content
        assert b"alice" not in response.content
    assert client.get(schedule_url(other_org, theirs)).status_code == 200


@time_machine.travel(MONDAY, tick=False)
def test_the_pages_take_the_same_queries_for_1_or_10_schedules(
    org, member, client_for, schedule_of, django_assert_max_num_queries
):
    people = [member(Role.RESPONDER) for _ in range(4)]
    client = client_for(people[0])
    schedule = schedule_of(org, *people[:2], name="S0")
    with django_assert_max_num_queries(30) as one:
        client.get(now_url(org))
    with django_assert_max_num_queries(30) as detail_one:
        client.get(schedule_url(org, schedule))
    for index in range(1, 10):
        schedule_of(org, *people, name=f"S{index}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(client.get(now_url(org)).context["rows"]) == 10
    big = schedule_of(org, *people, name="Big")
    for index in range(5):
        Override.objects.create(
            organization=org,
            schedule=big,
            user=people[index % 4],
            start=datetime(2026, 3, 24 + index, 10, 0, tzinfo=UTC),
            end=datetime(2026, 3, 24 + index, 12, 0, tzinfo=UTC),
        )
    with django_assert_max_num_queries(len(detail_one.captured_queries)):
        client.get(schedule_url(org, big))
