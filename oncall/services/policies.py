"""Writes to escalation policies, and which policy pages for a service or a team.

A policy is written whole: its own fields and its ordered steps, each naming whom it pages
by username (members of the organization only), team slug or schedule id (the
organization's only). Anything else is refused with a field error before a row is written,
so a refused request stores nothing. Editing a policy never touches a running escalation
(it pages from its snapshot); deleting one removes the links that made services and teams
use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.utils.timezone import now

from core.errors import Conflict, DomainError
from incidents.models import Service
from oncall.models import (
    MAX_REPEAT,
    EscalationPolicy,
    Schedule,
    ServicePolicy,
    Step,
    StepTarget,
    TeamPolicy,
)
from oncall.targets import RESPONDS
from tenancy import audit, rls
from tenancy.models import Membership, Team
from tenancy.roles import roles_with_perm

MAX_STEPS = 20
MAX_TARGETS = 50
MAX_DELAY_MINUTES = 7 * 24 * 60
POLICY_FIELDS = ("name", "description", "repeat")
TARGET_KINDS = ("users", "teams", "schedules")


def policy_of(record) -> int | None:
    """The id of the policy a service or team uses (select ``escalation`` with it to read
    this without a query), None without one."""
    try:
        return record.escalation.policy_id
    except ObjectDoesNotExist:
        return None


def describe_step(step: Step) -> dict[str, Any]:
    """A step as the API shows it and the audit log keeps it: its targets by name (users
    by username, teams by slug, schedules by id)."""
    targets: dict[str, list] = {kind: [] for kind in TARGET_KINDS}
    for target in step.targets.all():
        if target.user_id:
            targets["users"].append(target.user.username)
        elif target.team_id:
            targets["teams"].append(target.team.slug)
        else:
            targets["schedules"].append(target.schedule_id)
    return {"delay_minutes": step.delay_minutes, "round_robin": step.round_robin, **targets}


def describe(policy: EscalationPolicy) -> dict[str, Any]:
    """The policy as the audit log keeps it: its fields and its steps' targets by name."""
    steps = policy.steps.order_by("position").prefetch_related("targets__user", "targets__team")
    return {
        **audit.snapshot(policy, POLICY_FIELDS),
        "steps": [describe_step(step) for step in steps],
    }


def _check_fields(fields: Mapping[str, Any]) -> None:
    if "name" in fields and not str(fields["name"] or "").strip():
        raise DomainError("Give the policy a name.", field="name")
    repeat = fields.get("repeat", 0)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= MAX_REPEAT:
        raise DomainError(f"Repeat between 0 and {MAX_REPEAT} times.", field="repeat")


def _wanted(steps: Iterable[Mapping[str, Any]], kind: str) -> set:
    return {value for step in steps for value in step.get(kind) or ()}


def _resolve(organization, steps: list[Mapping[str, Any]]) -> list[tuple[Step, list]]:
    """Unsaved steps with their targets, every name looked up in the organization (one
    query per kind of target, however many steps)."""
    if len(steps) > MAX_STEPS:
        raise DomainError(f"A policy has at most {MAX_STEPS} steps.", field="steps")
    usernames, slugs, ids = (_wanted(steps, kind) for kind in TARGET_KINDS)
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise DomainError("Schedules are named by their id.", field="steps")
    memberships = Membership.objects.for_org(organization).filter(user__username__in=usernames)
    users, bystanders = {}, set()
    for membership in memberships.select_related("user"):
        if membership.role in roles_with_perm(RESPONDS):
            users[membership.user.username] = membership.user
        else:
            bystanders.add(membership.user.username)
    teams = {team.slug: team for team in Team.objects.for_org(organization).filter(slug__in=slugs)}
    schedules = {s.pk: s for s in Schedule.objects.for_org(organization).filter(pk__in=ids)}
    found = {"users": users, "teams": teams, "schedules": schedules}
    resolved = []
    for index, data in enumerate(steps):
        label = f"Step {index + 1}"
        delay = data.get("delay_minutes", 30)
        if isinstance(delay, bool) or not isinstance(delay, int):
            raise DomainError(f"{label}: the delay is a number of minutes.", field="steps")
        if not 1 <= delay <= MAX_DELAY_MINUTES:
            raise DomainError(
                f"{label}: wait between 1 and {MAX_DELAY_MINUTES} minutes.", field="steps"
            )
        targets = []
        for kind in TARGET_KINDS:
            names = list(data.get(kind) or ())
            if len(set(names)) != len(names):
                raise DomainError(f"{label}: {kind} are named once each.", field="steps")
            for name in names:
                if kind == "users" and name in bystanders:
                    raise DomainError(
                        f"{label}: {name} cannot acknowledge a page (not a responder here).",
                        field="steps",
                    )
                if name not in found[kind]:
                    raise DomainError(f"{label}: no {kind[:-1]} {name!r} here.", field="steps")
                targets.append(StepTarget(**{kind[:-1]: found[kind][name]}))
        if not targets:
            raise DomainError(f"{label}: name whom it pages.", field="steps")
        if len(targets) > MAX_TARGETS:
            raise DomainError(f"{label}: at most {MAX_TARGETS} targets.", field="steps")
        step = Step(delay_minutes=delay, round_robin=bool(data.get("round_robin", False)))
        resolved.append((step, targets))
    return resolved


def _write_steps(organization, policy: EscalationPolicy, resolved) -> None:
    """Writes the resolved steps in their order. A step at a position the policy has
    already keeps its row (its id, which running escalations' snapshots name, and its
    round-robin turn) with the new settings and targets; steps past the new last one go."""
    existing = {
        step.position: step for step in Step.objects.for_org(organization).filter(policy=policy)
    }
    kept, added = [], []
    for position, (step, _) in enumerate(resolved):
        step.organization, step.policy, step.position = organization, policy, position
        old = existing.pop(position, None)
        if old is None:
            added.append(step)
        else:
            step.pk, step.round_robin_next = old.pk, old.round_robin_next
            kept.append(step)
    Step.objects.for_org(organization).filter(pk__in=[s.pk for s in existing.values()]).delete()
    if kept:
        StepTarget.objects.for_org(organization).filter(step__in=kept).delete()
        Step.objects.for_org(organization).bulk_update(kept, ["delay_minutes", "round_robin"])
    Step.objects.bulk_create(added)
    targets = []
    for step, step_targets in resolved:
        for position, target in enumerate(step_targets):
            target.organization, target.step, target.position = organization, step, position
            targets.append(target)
    StepTarget.objects.bulk_create(targets)


def _save(policy: EscalationPolicy, fields: list[str]) -> None:
    try:
        with transaction.atomic():
            if policy.pk:
                policy.save(update_fields=fields)
            else:
                policy.save()
    except IntegrityError as exc:
        raise Conflict("A policy with that name exists already.", field="name") from exc


@rls.in_tenant
def policy_create(
    *,
    organization,
    actor,
    name: str,
    description: str = "",
    repeat: int = 0,
    steps: list[Mapping[str, Any]] = (),
) -> EscalationPolicy:
    """A policy with its steps in the order given."""
    _check_fields({"name": name, "repeat": repeat})
    resolved = _resolve(organization, list(steps))
    policy = EscalationPolicy(
        organization=organization, name=name, description=description, repeat=repeat
    )
    _save(policy, [])
    _write_steps(organization, policy, resolved)
    audit.record(
        organization=organization,
        actor=actor,
        action="escalationpolicy.created",
        target=policy,
        after=describe(policy),
    )
    return policy


@rls.in_tenant
def policy_update(
    *,
    organization,
    actor,
    policy: EscalationPolicy,
    steps: list[Mapping[str, Any]] | None = None,
    **changes,
) -> EscalationPolicy:
    """Changes the policy's fields; ``steps``, when given, replace all of its steps (a
    step at a position it had keeps its round-robin turn)."""
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise DomainError("Not a field of a policy.", field=sorted(unknown)[0])
    _check_fields({"repeat": policy.repeat, **changes})
    resolved = None if steps is None else _resolve(organization, list(steps))
    before = describe(policy)
    for field, value in changes.items():
        setattr(policy, field, value)
    policy.updated_at = now()
    _save(policy, [*changes, "updated_at"])
    if resolved is not None:
        _write_steps(organization, policy, resolved)
    after = describe(policy)
    if after != before:
        audit.record(
            organization=organization,
            actor=actor,
            action="escalationpolicy.updated",
            target=policy,
            before=before,
            after=after,
        )
    return policy


@rls.in_tenant
def policy_delete(*, organization, actor, policy: EscalationPolicy) -> None:
    """Services and teams that used the policy are left without one; escalations already
    running go on from their snapshots."""
    before = describe(policy)
    before["services"] = list(
        ServicePolicy.objects.for_org(organization)
        .filter(policy=policy)
        .values_list("service__slug", flat=True)
    )
    before["teams"] = list(
        TeamPolicy.objects.for_org(organization)
        .filter(policy=policy)
        .values_list("team__slug", flat=True)
    )
    audit.record(
        organization=organization,
        actor=actor,
        action="escalationpolicy.deleted",
        target=policy,
        before=before,
    )
    ServicePolicy.objects.for_org(organization).filter(policy=policy).delete()
    TeamPolicy.objects.for_org(organization).filter(policy=policy).delete()
    policy.delete()


def _link(organization, actor, *, model, field: str, record, policy) -> None:
    if policy is not None and policy.organization_id != organization.pk:
        raise DomainError("Not found.", field="escalation_policy")
    row = model.objects.for_org(organization).filter(**{field: record}).first()
    before = None if row is None else row.policy_id
    after = None if policy is None else policy.pk
    if before == after:
        return
    if policy is None:
        row.delete()
        model._meta.get_field(field).remote_field.set_cached_value(record, None)
    elif row is None:
        row = model.objects.create(organization=organization, policy=policy, **{field: record})
    else:
        row.policy = policy
        row.save(update_fields=["policy"])
    if row is not None and policy is not None:
        record.escalation = row
    audit.record(
        organization=organization,
        actor=actor,
        action=f"{record._meta.model_name}.escalation_policy_set",
        target=record,
        before={"escalation_policy": before},
        after={"escalation_policy": after},
    )


@rls.in_tenant
def service_policy_set(
    *, organization, actor, service: Service, value: EscalationPolicy | None
) -> None:
    """The policy that pages for the service's incidents; None: its team's, if any."""
    _link(organization, actor, model=ServicePolicy, field="service", record=service, policy=value)


@rls.in_tenant
def team_policy_set(*, organization, actor, team: Team, value: EscalationPolicy | None) -> None:
    """The policy that pages for the team's incidents whose service has none."""
    _link(organization, actor, model=TeamPolicy, field="team", record=team, policy=value)
