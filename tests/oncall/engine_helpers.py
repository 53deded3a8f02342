"""Building blocks of the escalation engine's tests: policies written straight to the
models (their services are tested elsewhere), incidents opened through the incident
services, and the event deliveries that follow a commit run at once."""

from __future__ import annotations

import contextlib

from incidents import services as incident_services
from oncall.models import (
    Escalation,
    EscalationPolicy,
    Page,
    ServicePolicy,
    Step,
    StepTarget,
    TeamPolicy,
)
from tenancy import rls
from tenancy import services as tenancy_services


def make_policy(org, name: str, steps: list[dict], repeat: int = 0) -> EscalationPolicy:
    """``steps``: [{"delay": minutes, "users": [...], "teams": [...], "schedules": [...],
    "round_robin": bool}]."""
    with rls.tenant_context(org.pk):
        return _make_policy(org, name, steps, repeat)


def _make_policy(org, name: str, steps: list[dict], repeat: int) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(organization=org, name=name, repeat=repeat)
    for position, spec in enumerate(steps):
        step = Step.objects.create(
            organization=org,
            policy=policy,
            position=position,
            delay_minutes=spec.get("delay", 10),
            round_robin=spec.get("round_robin", False),
        )
        kinds = [("user", u) for u in spec.get("users", [])]
        kinds += [("team", t) for t in spec.get("teams", [])]
        kinds += [("schedule", s) for s in spec.get("schedules", [])]
        for index, (kind, value) in enumerate(kinds):
            StepTarget.objects.create(organization=org, step=step, position=index, **{kind: value})
    return policy


def make_team(org, slug: str, members) -> object:
    team = tenancy_services.team_create(organization=org, actor=None, slug=slug, name=slug.title())
    for user in members:
        tenancy_services.team_member_add(organization=org, actor=None, team=team, user=user)
    return team


def make_service(org, slug: str, policy=None, team=None):
    service = incident_services.service_create(
        organization=org, actor=None, slug=slug, name=slug.title(), team=team
    )
    if policy is not None:
        with rls.tenant_context(org.pk):
            ServicePolicy.objects.create(organization=org, service=service, policy=policy)
    return service


def use_for_team(org, team, policy) -> None:
    with rls.tenant_context(org.pk):
        TeamPolicy.objects.create(organization=org, team=team, policy=policy)


@contextlib.contextmanager
def committed(capture):
    """Runs what commits would run (event deliveries, e-mails) at the end of the block."""
    with capture(execute=True):
        yield


def open_incident(org, capture, **fields):
    with committed(capture):
        return incident_services.incident_create(
            organization=org, actor=None, title=fields.pop("title", "Checkout down"), **fields
        )


def escalation_of(incident) -> Escalation:
    with rls.tenant_context(incident.organization_id):
        return Escalation.objects.for_org(incident.organization_id).get(
            incident=incident, state=Escalation.State.ACTIVE
        )


def paged(incident) -> list[tuple[str, int | None, int | None]]:
    """(recipient, step, repeat) of the incident's pages, oldest first."""
    with rls.tenant_context(incident.organization_id):
        return list(
            Page.objects.for_org(incident.organization_id)
            .filter(incident=incident)
            .order_by("pk")
            .values_list("recipient__username", "step", "repeat")
        )
