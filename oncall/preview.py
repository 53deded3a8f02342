"""What a policy would do if an incident started at a given moment: for every repeat and
step, when it would page and whom.

Steps page one after the other, each ``delay_minutes`` after the previous one, and the
whole list again ``repeat`` more times, so the timeline is exact as long as nobody
acknowledges. Whom a step pages is resolved at the moment it pages, as the engine resolves
it (:mod:`oncall.targets`): a responder while a member, a team's responders, whoever a
schedule has on call then (a schedule may hand over between the first step and the
last).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from incidents.models import Service
from oncall import selectors, targets
from oncall.models import EscalationPolicy, StepTarget
from oncall.snapshots import target_of


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


def timeline(*, organization, policy: EscalationPolicy, at: datetime) -> list[Entry]:
    """Every page the policy would send from ``at``, in order; a round-robin step shows
    the one person whose turn it is."""
    steps = list(
        policy.steps.order_by("position").prefetch_related(
            "targets__user", "targets__team", "targets__schedule"
        )
    )
    resolver = targets.Resolver(
        organization,
        [target_of(target) for step in steps for target in step.targets.all()],
        since=at,
    )
    entries = []
    moment = at
    for repeat in range(policy.repeat + 1):
        for index, step in enumerate(steps):
            step_targets = list(step.targets.all())
            users = []
            for target in step_targets:
                for user in resolver.resolve(target_of(target), moment).people:
                    if user.username not in users:
                        users.append(user.username)
            if step.round_robin and users:
                users = [users[step.round_robin_next % len(users)]]
            labels = [label(target) for target in step_targets]
            entries.append(Entry(repeat, index, moment, users, labels))
            moment += timedelta(minutes=step.delay_minutes)
    return entries
