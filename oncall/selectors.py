"""Reads of on-call data, each starting from the organization.

Schedules come loaded for :mod:`oncall.rotations` (layers, participants, overrides in a
fixed number of queries), so whoever reads them can ask who is on call without more.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils.timezone import now

from oncall.models import Override, Participant, Schedule, ServicePolicy, Swap, TeamPolicy
from oncall.rotations import Segment, final_segments, with_rotations


def schedule_list(*, organization, overrides_since: datetime | None = None):
    """The organization's schedules with their team, layers and the overrides that have
    not ended (or ended after ``overrides_since``)."""
    queryset = Schedule.objects.for_org(organization).select_related("team")
    return with_rotations(queryset, overrides_since=overrides_since or now())


def schedule_get(*, organization, pk: int, overrides_since: datetime | None = None):
    """The schedule loaded like :func:`schedule_list`; ``Schedule.DoesNotExist`` when it
    is not the organization's."""
    return schedule_list(organization=organization, overrides_since=overrides_since).get(pk=pk)


def override_list(*, organization, schedule, since: datetime | None = None):
    """The schedule's overrides that have not ended (or ended after ``since``)."""
    return (
        Override.objects.for_org(organization)
        .filter(schedule=schedule, end__gt=since or now())
        .select_related("user", "created_by")
    )


def swap_list(*, organization, schedule):
    return (
        Swap.objects.for_org(organization)
        .filter(schedule=schedule)
        .select_related("offered_by", "taken_by")
    )


def user_schedules(*, organization, user, overrides_since: datetime):
    """The schedules where the user may be on call: in a layer or with an override."""
    in_layers = (
        Participant.objects.for_org(organization).filter(user=user).values("layer__schedule")
    )
    with_override = (
        Override.objects.for_org(organization)
        .filter(user=user, end__gt=overrides_since)
        .values("schedule")
    )
    return schedule_list(organization=organization, overrides_since=overrides_since).filter(
        Q(pk__in=in_layers) | Q(pk__in=with_override)
    )


def user_shifts(*, organization, user, start: datetime, end: datetime):
    """(schedule, segment) for each stretch the user is on call in [start, end), over
    every schedule of the organization, in time order."""
    shifts: list[tuple[Schedule, Segment]] = []
    for schedule in user_schedules(organization=organization, user=user, overrides_since=start):
        for segment in final_segments(schedule, start, end):
            if user.pk in segment.user_ids:
                shifts.append((schedule, segment))
    shifts.sort(key=lambda item: (item[1].start, item[0].pk))
    return shifts


def policy_paging(*, organization_id: int, service_id: int | None, team_id: int | None):
    """The escalation policy that pages for an incident of this service and team: the
    service's own, else the team's, else None."""
    if service_id is not None:
        link = (
            ServicePolicy.objects.for_org(organization_id)
            .filter(service_id=service_id)
            .select_related("policy")
            .first()
        )
        if link is not None:
            return link.policy
    if team_id is None:
        return None
    link = (
        TeamPolicy.objects.for_org(organization_id)
        .filter(team_id=team_id)
        .select_related("policy")
        .first()
    )
    return None if link is None else link.policy
