"""Schedules in the portal, under /o/<org>/oncall/: who is on call now in every
schedule (and the viewer's own coming shifts), and a schedule's page with its layers,
overrides and a calendar of the coming weeks, rendered on the server.

Every page reads its schedules in a fixed number of queries (``rotations.with_rotations``)
and computes the rest in Python, so a page costs the same however many layers, people and
shifts it shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from oncall import rotations
from oncall.models import Schedule
from tenancy.access import org_member_required

MY_SHIFTS_DAYS = 14
CALENDAR_DAYS = 28


@dataclass
class DayShift:
    start: datetime  # local
    end: datetime  # local
    users: list
    starts_before: bool  # the shift began on an earlier day
    ends_after: bool  # it goes on into a later day


@dataclass
class Day:
    day: date
    shifts: list[DayShift]


def _schedules(request):
    if not request.user.has_perm("oncall.view_schedule", request.organization):
        raise PermissionDenied
    return rotations.with_rotations(
        Schedule.objects.for_org(request.organization).select_related("team"),
        overrides_since=timezone.now(),
    )


def calendar(schedule, start: datetime, days: int) -> list[Day]:
    """The schedule's final segments from ``start``'s local day on, cut into local days."""
    zone = rotations.zone_of(schedule)
    first = start.astimezone(zone).date()
    bounds = [
        rotations.localize(first + timedelta(d), datetime.min.time(), zone) for d in range(days + 1)
    ]
    segments = [
        segment
        for segment in rotations.final_segments(schedule, bounds[0], bounds[-1])
        if segment.users
    ]
    out = []
    for index in range(days):
        day_start, day_end = bounds[index], bounds[index + 1]
        shifts = [
            DayShift(
                start=max(segment.start, day_start).astimezone(zone),
                end=min(segment.end, day_end).astimezone(zone),
                users=segment.users,
                starts_before=segment.start < day_start,
                ends_after=segment.end > day_end,
            )
            for segment in segments
            if segment.start < day_end and segment.end > day_start
        ]
        out.append(Day(day=first + timedelta(index), shifts=shifts))
    return out


@org_member_required
@require_GET
def oncall_now(request):
    """Every schedule with who is on call now and until when, and the viewer's next shifts."""
    now = timezone.now()
    horizon = now + timedelta(days=MY_SHIFTS_DAYS)
    rows, mine = [], []
    for schedule in _schedules(request):
        rows.append((schedule, rotations.oncall_at(schedule, now)))
        for segment in rotations.final_segments(schedule, now, horizon):
            if any(user.pk == request.user.pk for user in segment.users):
                mine.append((schedule, segment))
    mine.sort(key=lambda item: item[1].start)
    return render(
        request,
        "oncall/oncall_now.html",
        {"rows": rows, "mine": mine, "my_shifts_days": MY_SHIFTS_DAYS},
    )


@org_member_required
@require_GET
def schedule_detail(request, schedule: int):
    schedule = get_object_or_404(_schedules(request), pk=schedule)
    now = timezone.now()
    return render(
        request,
        "oncall/schedule_detail.html",
        {
            "schedule": schedule,
            "now": rotations.oncall_at(schedule, now),
            "zone": rotations.zone_of(schedule),
            "calendar": calendar(schedule, now, CALENDAR_DAYS),
            "overrides": [o for o in schedule.overrides.all() if o.end > now],
        },
    )
