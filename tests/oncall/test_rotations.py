"""The arithmetic of schedules: rotations, DST, restrictions, layers, overrides."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall.rotations import HORIZON, final_segments, layer_segments, localize, oncall_at

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


@pytest.fixture
def people(make_user):
    return [make_user(name) for name in ("alice", "bob", "carol", "dave")]


def names(oncall) -> list[str]:
    return [user.username for user in oncall.users]


def shifts(schedule, start, end) -> list[tuple[datetime, datetime, list[str]]]:
    return [
        (s.start, s.end, [u.username for u in s.users])
        for s in final_segments(schedule, start, end)
    ]


def test_weekly_rotation_hands_off_at_the_local_time(make_schedule, people):
    alice, bob, *_ = people
    schedule = make_schedule([{"users": [alice, bob], "handoff_time": time(9)}])

    before = oncall_at(schedule, utc(2026, 1, 5, 8, 59))
    assert before.users == []
    assert before.until == utc(2026, 1, 5, 9)
    assert names(oncall_at(schedule, utc(2026, 1, 7))) == ["alice"]
    assert oncall_at(schedule, utc(2026, 1, 7)).until == utc(2026, 1, 12, 9)
    assert names(oncall_at(schedule, utc(2026, 1, 12, 9))) == ["bob"]
    assert names(oncall_at(schedule, utc(2026, 1, 19, 9))) == ["alice"]


def test_daily_rotation_of_two_day_shifts(make_schedule, people):
    alice, bob, carol, _ = people
    schedule = make_schedule(
        [{"users": [alice, bob, carol], "shift_unit": "days", "shift_length": 2}]
    )

    assert names(oncall_at(schedule, utc(2026, 1, 7, 8))) == ["alice"]
    assert names(oncall_at(schedule, utc(2026, 1, 7, 9))) == ["bob"]
    assert names(oncall_at(schedule, utc(2026, 1, 10))) == ["carol"]
    assert names(oncall_at(schedule, utc(2026, 1, 11, 10))) == ["alice"]
    assert oncall_at(schedule, utc(2026, 1, 11, 10)).until == utc(2026, 1, 13, 9)


def test_hourly_rotation(make_schedule, people):
    alice, bob, carol, _ = people
    schedule = make_schedule(
        [{"users": [alice, bob, carol], "shift_unit": "hours", "shift_length": 8}]
    )

    assert names(oncall_at(schedule, utc(2026, 1, 5, 16, 59))) == ["alice"]
    assert names(oncall_at(schedule, utc(2026, 1, 5, 17))) == ["bob"]
    assert names(oncall_at(schedule, utc(2026, 1, 6, 1))) == ["carol"]
    assert names(oncall_at(schedule, utc(2026, 1, 6, 9))) == ["alice"]
    assert names(oncall_at(schedule, utc(2026, 1, 15, 1))) == ["carol"]  # shift 29


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (BERLIN, date(2026, 3, 28), 23),  # clocks go forward on the 29th
        (BERLIN, date(2026, 10, 24), 25),  # and back on the 25th of October
        (NEW_YORK, date(2026, 3, 7), 23),
        (NEW_YORK, date(2026, 10, 31), 25),
    ],
)
def test_a_daily_shift_across_dst_is_a_calendar_day(make_schedule, people, zone, day, hours):
    alice, bob, *_ = people
    schedule = make_schedule(
        [{"users": [alice, bob], "shift_unit": "days", "rotation_start": day}],
        time_zone=str(zone),
    )
    start = local(zone, day.year, day.month, day.day, 9)

    first, second = final_segments(schedule, start, start + timedelta(hours=30))
    assert first.end - first.start == timedelta(hours=hours)
    assert first.end.astimezone(zone).time() == time(9)
    assert [u.username for u in second.users] == ["bob"]
    assert oncall_at(schedule, start).until == first.end


@pytest.mark.parametrize(
    ("zone", "monday", "hours"),
    [
        (BERLIN, date(2026, 3, 23), 167),
        (BERLIN, date(2026, 10, 19), 169),
        (NEW_YORK, date(2026, 3, 2), 167),
        (NEW_YORK, date(2026, 10, 26), 169),
    ],
)
def test_a_weekly_shift_across_dst_keeps_the_local_handoff(
    make_schedule, people, zone, monday, hours
):
    alice, bob, *_ = people
    schedule = make_schedule(
        [{"users": [alice, bob], "rotation_start": monday}], time_zone=str(zone)
    )
    start = local(zone, monday.year, monday.month, monday.day, 9)

    handoff = oncall_at(schedule, start).until
    assert handoff - start == timedelta(hours=hours)
    assert handoff.astimezone(zone).replace(tzinfo=None) == datetime.combine(
        monday + timedelta(days=7), time(9)
    )


@pytest.mark.parametrize(
    ("zone", "evening", "handoff_utc"),
    [
        # 12 real hours after 21:00 the evening before the change is 10:00 local in spring
        (BERLIN, local(BERLIN, 2026, 3, 28, 21), utc(2026, 3, 29, 8)),
        (BERLIN, local(BERLIN, 2026, 10, 24, 21), utc(2026, 10, 25, 7)),
        (NEW_YORK, local(NEW_YORK, 2026, 3, 7, 21), utc(2026, 3, 8, 14)),
        (NEW_YORK, local(NEW_YORK, 2026, 10, 31, 21), utc(2026, 11, 1, 13)),
    ],
)
def test_hourly_shifts_are_real_hours_across_dst(make_schedule, people, zone, evening, handoff_utc):
    alice, bob, *_ = people
    schedule = make_schedule(
        [
            {
                "users": [alice, bob],
                "shift_unit": "hours",
                "shift_length": 12,
                "rotation_start": evening.date(),
                "handoff_time": time(21),
            }
        ],
        time_zone=str(zone),
    )

    assert oncall_at(schedule, evening).until == handoff_utc
    assert handoff_utc - evening == timedelta(hours=12)
    assert names(oncall_at(schedule, handoff_utc)) == ["bob"]


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected"),
    [
        # does not exist: the moment the clocks jump
        (BERLIN, date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1)),
        (NEW_YORK, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7)),
        # twice: the first occurrence (summer time)
        (BERLIN, date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30)),
        (NEW_YORK, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),
        (BERLIN, date(2026, 7, 1), time(9), utc(2026, 7, 1, 7)),
    ],
)
def test_local_handoff_times_that_are_missing_or_repeated(zone, day, at, expected):
    assert localize(day, at, zone) == expected


def test_a_daily_handoff_inside_the_spring_gap(make_schedule, people):
    alice, bob, *_ = people
    schedule = make_schedule(
        [
            {
                "users": [alice, bob],
                "shift_unit": "days",
                "rotation_start": date(2026, 3, 28),
                "handoff_time": time(2, 30),
            }
        ],
        time_zone="Europe/Berlin",
    )
    first = oncall_at(schedule, utc(2026, 3, 28, 12))
    assert names(first) == ["alice"]
    assert first.until == utc(2026, 3, 29, 1)  # 03:00 CEST, when 02:00 became 03:00
    assert oncall_at(schedule, utc(2026, 3, 29, 1)).until == utc(2026, 3, 30, 0, 30)


def test_weekday_business_hours(make_schedule, people):
    alice, *_ = people
    schedule = make_schedule(
        [
            {
                "users": [alice],
                "restrictions": [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}],
            }
        ],
        time_zone="Europe/Berlin",
    )

    monday = oncall_at(schedule, local(BERLIN, 2026, 1, 12, 10))
    assert names(monday) == ["alice"]
    assert monday.until == local(BERLIN, 2026, 1, 12, 17)
    evening = oncall_at(schedule, local(BERLIN, 2026, 1, 12, 17))
    assert evening.users == []
    assert evening.until == local(BERLIN, 2026, 1, 13, 9)
    saturday = oncall_at(schedule, local(BERLIN, 2026, 1, 17, 12))
    assert saturday.users == []
    assert saturday.until == local(BERLIN, 2026, 1, 19, 9)


def test_an_overnight_window_belongs_to_the_day_it_starts(make_schedule, people):
    alice, *_ = people
    schedule = make_schedule(
        [{"users": [alice], "restrictions": [{"days": ["mon"], "start": "22:00", "end": "06:00"}]}]
    )

    assert names(oncall_at(schedule, utc(2026, 1, 12, 23))) == ["alice"]
    assert names(oncall_at(schedule, utc(2026, 1, 13, 5, 59))) == ["alice"]
    assert oncall_at(schedule, utc(2026, 1, 13, 5, 59)).until == utc(2026, 1, 13, 6)
    assert oncall_at(schedule, utc(2026, 1, 13, 23)).users == []  # Tuesday night
    assert oncall_at(schedule, utc(2026, 1, 12, 5)).users == []  # Sunday night's window


def test_midnight_to_midnight_is_the_whole_day(make_schedule, people):
    alice, *_ = people
    schedule = make_schedule(
        [{"users": [alice], "restrictions": [{"days": ["sat"], "start": "00:00", "end": "00:00"}]}]
    )

    [segment] = [s for s in final_segments(schedule, utc(2026, 1, 12), utc(2026, 1, 19)) if s.users]
    assert (segment.start, segment.end) == (utc(2026, 1, 17), utc(2026, 1, 18))


def test_restriction_windows_cut_shifts_and_rotate_with_them(make_schedule, people):
    alice, bob, *_ = people
    schedule = make_schedule(
        [
            {
                "users": [alice, bob],
                "shift_unit": "days",
                "handoff_time": time(12),
                "restrictions": [{"start": "09:00", "end": "17:00"}],
            }
        ]
    )

    assert shifts(schedule, utc(2026, 1, 6, 8), utc(2026, 1, 6, 18)) == [
        (utc(2026, 1, 6, 8), utc(2026, 1, 6, 9), []),
        (utc(2026, 1, 6, 9), utc(2026, 1, 6, 12), ["alice"]),
        (utc(2026, 1, 6, 12), utc(2026, 1, 6, 17), ["bob"]),
        (utc(2026, 1, 6, 17), utc(2026, 1, 6, 18), []),
    ]


def test_the_higher_layer_wins_only_where_it_has_someone(make_schedule, people):
    alice, bob, *_ = people
    nights = [{"days": WEEKDAYS, "start": "18:00", "end": "08:00"}]
    schedule = make_schedule(
        [
            {"users": [bob], "position": 5, "restrictions": nights},
            {"users": [alice], "position": 1},
        ]
    )

    assert names(oncall_at(schedule, utc(2026, 1, 12, 12))) == ["alice"]
    night = oncall_at(schedule, utc(2026, 1, 12, 20))
    assert names(night) == ["bob"]
    assert night.until == utc(2026, 1, 13, 8)
    assert names(oncall_at(schedule, utc(2026, 1, 17, 20))) == ["alice"]  # Saturday


def test_overrides_win_over_every_layer(make_schedule, people):
    alice, bob, carol, dave = people
    schedule = make_schedule(
        [{"users": [alice], "position": 0}, {"users": [bob], "position": 3}],
        overrides=[
            (carol, utc(2026, 1, 12, 10), utc(2026, 1, 12, 14)),
            (dave, utc(2026, 1, 12, 12), utc(2026, 1, 12, 16)),
        ],
    )

    assert names(oncall_at(schedule, utc(2026, 1, 12, 9))) == ["bob"]
    assert oncall_at(schedule, utc(2026, 1, 12, 9)).until == utc(2026, 1, 12, 10)
    assert names(oncall_at(schedule, utc(2026, 1, 12, 11))) == ["carol"]
    both = oncall_at(schedule, utc(2026, 1, 12, 13))
    assert names(both) == ["carol", "dave"]
    assert both.until == utc(2026, 1, 12, 14)
    assert names(oncall_at(schedule, utc(2026, 1, 12, 15))) == ["dave"]
    after = oncall_at(schedule, utc(2026, 1, 12, 16))
    assert names(after) == ["bob"]
    assert after.until is None


def test_an_override_on_an_empty_schedule(make_schedule, people):
    alice, *_ = people
    schedule = make_schedule(overrides=[(alice, utc(2026, 1, 1), utc(2026, 1, 2))])

    assert names(oncall_at(schedule, utc(2026, 1, 1, 12))) == ["alice"]
    nobody = oncall_at(schedule, utc(2026, 1, 2))
    assert nobody.users == []
    assert nobody.until is None


def test_until_is_none_when_nothing_changes_within_the_horizon(make_schedule, people):
    alice, bob, *_ = people
    twelve = make_schedule([{"users": [alice, bob], "shift_length": 12}])
    twenty = make_schedule([{"users": [alice, bob], "shift_length": 20}])

    assert oncall_at(twelve, utc(2026, 1, 6)).until == utc(2026, 3, 30, 9)
    assert oncall_at(twenty, utc(2026, 1, 6)).until is None  # 20 weeks > 90 days
    assert oncall_at(twenty, utc(2026, 4, 1)).until == utc(2026, 5, 25, 9)
    assert timedelta(days=90) == HORIZON


def test_adjacent_equal_segments_are_merged(make_schedule, people):
    alice, bob, *_ = people
    schedule = make_schedule(
        [
            {"users": [alice], "shift_unit": "days", "position": 0},
            {
                "users": [alice],
                "position": 1,
                "restrictions": [{"start": "18:00", "end": "08:00"}],
            },
        ],
        overrides=[(bob, utc(2026, 1, 9), utc(2026, 1, 9, 6))],
    )

    assert shifts(schedule, utc(2026, 1, 6), utc(2026, 1, 10)) == [
        (utc(2026, 1, 6), utc(2026, 1, 9), ["alice"]),
        (utc(2026, 1, 9), utc(2026, 1, 9, 6), ["bob"]),
        (utc(2026, 1, 9, 6), utc(2026, 1, 10), ["alice"]),
    ]
    [layer] = [layer for layer in schedule.layers.all() if layer.position == 0]
    [segment] = layer_segments(layer, utc(2026, 1, 6), utc(2026, 1, 10))
    assert (segment.start, segment.end) == (utc(2026, 1, 6), utc(2026, 1, 10))


def test_the_functions_issue_no_query(make_schedule, people, django_assert_num_queries):
    alice, bob, *_ = people
    schedule = make_schedule(
        [
            {"users": [alice, bob]},
            {"users": [bob], "restrictions": [{"start": "20:00", "end": "06:00"}]},
        ],
        overrides=[(alice, utc(2026, 1, 8), utc(2026, 1, 9))],
    )
    with django_assert_num_queries(0):
        oncall_at(schedule, utc(2026, 1, 8))
        final_segments(schedule, utc(2026, 1, 1), utc(2026, 3, 1))


@time_machine.travel(datetime(2026, 2, 3, 10, tzinfo=UTC), tick=False)
def test_on_call_now(make_schedule, people):
    alice, bob, *_ = people
    schedule = make_schedule([{"users": [alice, bob]}])

    assert names(oncall_at(schedule, timezone.now())) == ["alice"]  # week 4 of the rotation


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offset=st.integers(min_value=0, max_value=60 * 24 * 60),
    unit=st.sampled_from(["hours", "days", "weeks"]),
    length=st.integers(min_value=1, max_value=30),
)
def test_segments_cover_the_range_and_agree_with_oncall_at(
    make_schedule, people, offset, unit, length
):
    alice, bob, carol, _ = people
    schedule = make_schedule(
        [
            {"users": [alice, bob], "shift_unit": unit, "shift_length": length},
            {
                "users": [carol],
                "position": 2,
                "restrictions": [{"days": ["sat", "sun"], "start": "21:00", "end": "03:30"}],
            },
        ],
        time_zone="America/New_York",
    )
    start = utc(2026, 1, 1) + timedelta(minutes=offset)
    segments = final_segments(schedule, start, start + timedelta(days=14))

    assert segments[0].start == start
    assert segments[-1].end == start + timedelta(days=14)
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start
        assert before.user_ids != after.user_ids
    for segment in segments[:5]:
        answer = oncall_at(schedule, segment.start)
        assert [u.pk for u in answer.users] == list(segment.user_ids)
