"""The on-call report: for each person, and each team in total, over a time range, how long
they were on call (and how much of it at night and at weekends), how often they were
paged (and how often outside working hours) and how fast they acknowledged.

On-call time comes from the schedules' final segments (:func:`oncall.rotations.
final_segments`: layers, restrictions and overrides resolved); night is 22:00 to 07:00 and
the weekend Saturday and Sunday, both in the schedule's zone, because that is where the
person on call lives. Working hours are 09:00 to 18:00 Monday to Friday in the
organization's zone. The work is a fixed number of queries whatever the number of people:
the schedules with their rotations, the pages, the members and the teams.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model

from oncall.models import Page, Schedule
from oncall.rotations import final_segments, localize, with_rotations, zone_of
from tenancy.models import Membership, TeamMembership

User = get_user_model()

MAX_DAYS = 93
NIGHT_START, NIGHT_END = time(22), time(7)
WORK_START, WORK_END = time(9), time(18)


@dataclass
class Totals:
    hours_on_call: float = 0.0
    hours_at_night: float = 0.0
    hours_on_weekends: float = 0.0
    pages: int = 0
    pages_outside_working_hours: int = 0
    minutes_to_acknowledge: list[float] = field(default_factory=list)

    def add(self, other: Totals) -> None:
        self.hours_on_call += other.hours_on_call
        self.hours_at_night += other.hours_at_night
        self.hours_on_weekends += other.hours_on_weekends
        self.pages += other.pages
        self.pages_outside_working_hours += other.pages_outside_working_hours
        self.minutes_to_acknowledge += other.minutes_to_acknowledge

    def as_dict(self) -> dict:
        times = self.minutes_to_acknowledge
        return {
            "hours_on_call": round(self.hours_on_call, 2),
            "hours_at_night": round(self.hours_at_night, 2),
            "hours_on_weekends": round(self.hours_on_weekends, 2),
            "pages": self.pages,
            "pages_outside_working_hours": self.pages_outside_working_hours,
            "median_minutes_to_acknowledge": round(statistics.median(times), 1) if times else None,
        }


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _split(start: datetime, end: datetime, zone) -> tuple[float, float]:
    """(hours at night, hours on weekends) of [start, end) in ``zone``."""
    cuts = {start, end}
    day = start.astimezone(zone).date() - timedelta(days=1)
    while True:
        for moment in (time(0), NIGHT_END, NIGHT_START):
            instant = localize(day, moment, zone)
            if start < instant < end:
                cuts.add(instant)
        if localize(day, time(0), zone) >= end:
            break
        day += timedelta(days=1)
    night = weekend = 0.0
    points = sorted(cuts)
    for piece_start, piece_end in itertools.pairwise(points):
        local = piece_start.astimezone(zone)
        if local.time() >= NIGHT_START or local.time() < NIGHT_END:
            night += _hours(piece_start, piece_end)
        if local.weekday() >= 5:
            weekend += _hours(piece_start, piece_end)
    return night, weekend


def _outside_working_hours(moment: datetime, zone) -> bool:
    local = moment.astimezone(zone)
    return local.weekday() >= 5 or not WORK_START <= local.time() < WORK_END


def oncall_report(*, organization, start: datetime, end: datetime, team=None, user=None) -> dict:
    """The report over [start, end) for the organization's members, or a team's, or one
    person's; the caller keeps the range within :data:`MAX_DAYS`."""
    members = Membership.objects.for_org(organization).select_related("user")
    if user is not None:
        members = members.filter(user=user)
    if team is not None:
        members = members.filter(user__team_memberships__team=team)
    people = {m.user_id: m.user for m in members.order_by("user__username")}
    totals = defaultdict(Totals)
    schedules = with_rotations(Schedule.objects.for_org(organization), overrides_since=start)
    for schedule in schedules:
        zone = zone_of(schedule)
        for segment in final_segments(schedule, start, end):
            on_call = [u for u in segment.users if u.pk in people]
            if not on_call:
                continue
            night, weekend = _split(segment.start, segment.end, zone)
            for person in on_call:
                person_totals = totals[person.pk]
                person_totals.hours_on_call += _hours(segment.start, segment.end)
                person_totals.hours_at_night += night
                person_totals.hours_on_weekends += weekend
    pages = (
        Page.objects.for_org(organization)
        .filter(recipient_id__in=list(people), created_at__gte=start, created_at__lt=end)
        .values_list("recipient_id", "created_at", "acknowledged_at")
    )
    working_zone = organization.timezone
    for recipient_id, created_at, acknowledged_at in pages:
        person_totals = totals[recipient_id]
        person_totals.pages += 1
        person_totals.pages_outside_working_hours += _outside_working_hours(
            created_at, working_zone
        )
        if acknowledged_at is not None:
            minutes = (acknowledged_at - created_at).total_seconds() / 60
            person_totals.minutes_to_acknowledge.append(minutes)
    teams = TeamMembership.objects.for_org(organization).filter(user_id__in=list(people))
    if team is not None:
        teams = teams.filter(team=team)
    by_team: dict = {}
    for membership in teams.select_related("team").order_by("team__slug", "user__username"):
        team_totals = by_team.setdefault(membership.team.slug, Totals())
        team_totals.add(totals[membership.user_id])
    return {
        "start": start,
        "end": end,
        "people": [
            {"username": person.username, "name": person.get_full_name(), **totals[pk].as_dict()}
            for pk, person in people.items()
        ],
        "teams": [{"team": slug, **team.as_dict()} for slug, team in by_team.items()],
    }
