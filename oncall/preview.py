"""What a policy would do if an incident started at a given moment: for every repeat and
step, when it would page and whom.

Steps page one after the other, each ``delay_minutes`` after the previous one, and the
whole list again ``repeat`` more times, so the timeline is exact as long as nobody
acknowledges. Whom a step pages is resolved at the moment it pages, as the engine resolves
it: a person while a member, a team's members, whoever a schedule has on call then (a
schedule may hand over between the first step and the last), active members only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Prefetch

from incidents.models import Service
from oncall import selectors
from oncall.models import EscalationPolicy, Schedule, Step, StepTarget
from oncall.rotations import oncall_at, with_rotations
from tenancy.models import Membership, TeamMembership


@dataclass
class Entry:
    repeat: int
    step: int
    at: datetime
    users: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)


def policy_for_service(*, organization, service: Service) -> EscalationPolicy | None:
    """The policy that pages for the service's incidents: its own, else its team's."""
    return selectors.policy_paging(
        organization_id=organization.pk, service_id=service.pk, team_id=service.team_id
    )


def label(target: StepTarget) -> str:
    if target.user_id:
        return f"user {target.user.username}"
    if target.team_id:
        return f"team {target.team.slug}"
    return f"schedule {target.schedule.name}"


class _People:
    """Who a step's targets name at a moment, from what was read once for the whole
    timeline: the organization's active members, the teams' members and the schedules'
    rotations."""

    def __init__(self, organization, steps: list[Step]):
        self.members = set(
            Membership.objects.for_org(organization)
            .filter(user__is_active=True)
            .values_list("user_id", flat=True)
        )
        team_ids = {t.team_id for step in steps for t in step.targets.all() if t.team_id}
        self.teams = defaultdict(list)
        memberships = (
            TeamMembership.objects.for_org(organization)
            .filter(team_id__in=team_ids)
            .select_related("user")
            .order_by("user__username")
        )
        for membership in memberships:
            self.teams[membership.team_id].append(membership.user)

    def of(self, target: StepTarget, at: datetime) -> list:
        if target.user_id:
            users = [target.user]
        elif target.team_id:
            users = self.teams[target.team_id]
        else:
            users = oncall_at(target.schedule, at).users
        return [user for user in users if user.pk in self.members]


def timeline(*, organization, policy: EscalationPolicy, at: datetime) -> list[Entry]:
    """Every page the policy would send from ``at``, in order; a round-robin step shows
    the one person whose turn it is."""
    schedules = with_rotations(Schedule.objects.for_org(organization))
    steps = list(
        policy.steps.order_by("position").prefetch_related(
            "targets__user",
            "targets__team",
            Prefetch("targets__schedule", queryset=schedules),
        )
    )
    people = _People(organization, steps)
    entries = []
    moment = at
    for repeat in range(policy.repeat + 1):
        for index, step in enumerate(steps):
            targets = list(step.targets.all())
            users = []
            for target in targets:
                for user in people.of(target, moment):
                    if user.username not in users:
                        users.append(user.username)
            if step.round_robin and users:
                users = [users[step.round_robin_next % len(users)]]
            entries.append(
                Entry(repeat, index, moment, users, [label(target) for target in targets])
            )
            moment += timedelta(minutes=step.delay_minutes)
    return entries
