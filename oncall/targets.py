"""Who a step's target pages at a given moment.

A target comes from a policy snapshot (:mod:`oncall.snapshots`): a user is paged while
still a member of the organization; a team pages its members who are still members,
by username; a schedule pages whoever it has on call then. A target deleted since the
snapshot was taken resolves to nobody, and :func:`resolve` says it is gone so the
incident's timeline can say so too."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.contrib.auth import get_user_model

from oncall.models import Schedule
from oncall.rotations import oncall_at, with_rotations
from tenancy.models import Membership, Team

User = get_user_model()


@dataclasses.dataclass(frozen=True)
class Resolution:
    people: list
    gone: bool = False  # the user, team or schedule no longer exists here


def _members(organization, user_ids) -> list:
    members = Membership.objects.for_org(organization).filter(user_id__in=user_ids)
    return list(
        User.objects.filter(pk__in=members.values("user_id"), is_active=True).order_by("username")
    )


def resolve(organization, target: dict, at: datetime) -> Resolution:
    kind, pk = target["kind"], target["id"]
    if kind == "user":
        people = _members(organization, [pk])
        return Resolution(people, gone=not people)
    if kind == "team":
        team = Team.objects.for_org(organization).filter(pk=pk).first()
        if team is None:
            return Resolution([], gone=True)
        return Resolution(_members(organization, team.memberships.values("user_id")))
    schedules = Schedule.objects.for_org(organization).filter(pk=pk)
    schedule = with_rotations(schedules, overrides_since=at).first()
    if schedule is None:
        return Resolution([], gone=True)
    on_call = [user.pk for user in oncall_at(schedule, at).users]
    by_pk = {user.pk: user for user in _members(organization, on_call)}
    return Resolution([by_pk[pk] for pk in on_call if pk in by_pk])


def people(organization, target: dict, at: datetime) -> list:
    """The users the target pages at ``at`` (nobody for a deleted target)."""
    return resolve(organization, target, at).people
