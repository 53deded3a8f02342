"""An escalation policy frozen into JSON when an escalation starts.

The engine runs from the snapshot alone, so editing a policy, reordering its steps or
deleting it (or a team or schedule it names) changes nothing for escalations already
running: the snapshot keeps each target's kind, id and name, and a target deleted since
resolves to nobody (:mod:`oncall.targets`) with its name still there to say so."""

from __future__ import annotations

from django.db.models import Prefetch

from oncall.models import EscalationPolicy, StepTarget


def target_of(target: StepTarget) -> dict:
    """A step's target as the engine resolves it (:mod:`oncall.targets`)."""
    if target.user_id is not None:
        return {"kind": "user", "id": target.user_id, "name": target.user.get_username()}
    if target.team_id is not None:
        return {"kind": "team", "id": target.team_id, "name": target.team.name}
    return {"kind": "schedule", "id": target.schedule_id, "name": target.schedule.name}


def snapshot(policy: EscalationPolicy) -> dict:
    """``{"id", "name", "repeat", "steps": [{"id", "delay_minutes", "round_robin",
    "targets": [{"kind", "id", "name"}]}]}``, steps and targets in their order."""
    steps = policy.steps.order_by("position").prefetch_related(
        Prefetch(
            "targets",
            queryset=StepTarget.objects.order_by("position", "id").select_related(
                "user", "team", "schedule"
            ),
        )
    )
    return {
        "id": policy.pk,
        "name": policy.name,
        "repeat": policy.repeat,
        "steps": [
            {
                "id": step.pk,
                "delay_minutes": step.delay_minutes,
                "round_robin": step.round_robin,
                "targets": [target_of(target) for target in step.targets.all()],
            }
            for step in steps
        ],
    }
