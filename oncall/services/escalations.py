"""The escalation engine: starting an incident's escalation, stopping it, and the tick
that pages each step when it is due.

The database is the clock. An escalation's ``step``, ``repeat`` and
``next_escalation_at`` are columns; the tick takes the organization's due ones with
``FOR UPDATE SKIP LOCKED``, pages the step from the escalation's snapshot and moves it
on, all in one transaction, so a tick that dies pages nobody and the next one pages
them. Locks are taken escalation first, then its incident, and the incident with SKIP
LOCKED too: a status change holds the incident and then updates the escalation, so the
tick leaves an incident being changed alone until its next run instead of waiting in
the opposite order (a deadlock). Acknowledging, resolving or cancelling stops the
escalation inside that change's transaction (:func:`escalation_stop`), so once the
acknowledgement commits nobody is paged for it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict
from incidents.models import Incident, TimelineEntry
from incidents.services import lock_incident, timeline_entry_add, timeline_entry_build
from incidents.states import Status
from oncall import metrics, selectors, snapshots, targets
from oncall.models import Escalation, EscalationPolicy, ServicePolicy, Step
from oncall.services.pages import pages_close, pages_write
from tenancy import rls

log = logging.getLogger(__name__)

TICK_BATCH = 50  # due escalations one transaction of the tick takes
TICK_BATCHES = 20  # transactions one tick runs at most; the next tick takes the rest

# How an escalation ends when its incident leaves ``new``.
ENDED_BY = {
    Status.ACKNOWLEDGED: Escalation.State.ACKNOWLEDGED,
    Status.IN_PROGRESS: Escalation.State.ACKNOWLEDGED,
    Status.ON_HOLD: Escalation.State.ACKNOWLEDGED,
    Status.RESOLVED: Escalation.State.RESOLVED,
    Status.CLOSED: Escalation.State.RESOLVED,
    Status.CANCELLED: Escalation.State.CANCELLED,
}


def policy_for(incident: Incident) -> EscalationPolicy | None:
    """The service's policy, else the team's (the incident's, or its service's), else none."""
    team_id = incident.team_id or (incident.service.team_id if incident.service_id else None)
    return selectors.policy_paging(
        organization_id=incident.organization_id,
        service_id=incident.service_id,
        team_id=team_id,
    )


def _active(incident: Incident):
    return Escalation.objects.for_org(incident.organization_id).filter(
        incident=incident, state=Escalation.State.ACTIVE
    )


def _start(incident: Incident, policy: EscalationPolicy, *, why: str) -> Escalation:
    now = timezone.now()
    escalation = Escalation.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        policy=policy,
        snapshot=snapshots.snapshot(policy),
        next_escalation_at=now,
        started_at=now,
    )
    timeline_entry_add(
        incident,
        None,
        TimelineEntry.Kind.AUTOMATION,
        body=f"Escalation policy {policy.name} started ({why}).",
        data={"escalation": escalation.pk, "policy": policy.pk},
    )
    return escalation


def _end(escalation: Escalation, state: str, *, now=None) -> None:
    escalation.state = state
    escalation.next_escalation_at = None
    escalation.ended_at = now or timezone.now()
    escalation.save(update_fields=["state", "next_escalation_at", "ended_at"])


def _locked_incident(organization_id: int, incident_id: int) -> Incident | None:
    return (
        Incident.objects.for_org(organization_id)
        .select_for_update(of=("self",))
        .filter(pk=incident_id)
        .select_related("service")
        .first()
    )


def escalation_start_for_new(event) -> None:
    """Subscriber of ``incident.created``: starts the policy of the incident's service or
    team (see :func:`escalation_start`)."""
    incident = _locked_incident(event.organization_id, event.payload["incident"]["id"])
    if incident is not None:
        _start_once(incident, why="incident opened")


@rls.in_tenant
def escalation_start(*, organization, incident: Incident) -> Escalation | None:
    """Starts the policy of a new incident's service or team, unless the incident was
    acknowledged meanwhile or has had an escalation (an event delivered again, or the
    subscriber there first); returns the escalation started, if any."""
    incident = _locked_incident(organization.pk, incident.pk)
    return None if incident is None else _start_once(incident, why="incident opened")


def _start_once(incident: Incident, *, why: str) -> Escalation | None:
    if incident.status != Status.NEW:
        return None
    if Escalation.objects.for_org(incident.organization_id).filter(incident=incident).exists():
        return None
    policy = policy_for(incident)
    return None if policy is None else _start(incident, policy, why=why)


def escalation_follow_team(event) -> None:
    """Subscriber of ``incident.assigned``: an incident moved to a team whose policy is not
    the running one (and whose service has none of its own) ends the running escalation
    as ``replaced`` and starts the team's. A team without a policy leaves it running: the
    previous team keeps being paged rather than nobody."""
    if "team" not in event.payload.get("changes", {}):
        return
    incident = _locked_incident(event.organization_id, event.payload["incident"]["id"])
    if incident is None or incident.status != Status.NEW:
        return
    if (
        incident.service_id is not None
        and ServicePolicy.objects.for_org(event.organization_id)
        .filter(service_id=incident.service_id)
        .exists()
    ):
        return
    policy = policy_for(incident)
    if policy is None:
        return
    running = _active(incident).select_for_update().first()
    if running is not None:
        if running.policy_id == policy.pk:
            return  # already this team's (also: the event delivered again)
        _end(running, Escalation.State.REPLACED)
    _start(incident, policy, why=f"incident moved to team {incident.team or 'none'}")


def escalation_stop(sender, *, incident: Incident, previous: str, **kwargs) -> None:
    """Receiver of ``incidents.signals.status_changed``, in the change's transaction with
    the incident locked: leaving ``new`` ends the running escalation and closes the open
    pages; resolving, closing or cancelling closes any page still open (a responder's)."""
    state = ENDED_BY.get(incident.status)
    if state is None:
        return
    now = timezone.now()
    ended = _active(incident).update(state=state, next_escalation_at=None, ended_at=now)
    if previous == Status.NEW or state != Escalation.State.ACKNOWLEDGED:
        pages_close(incident)
    if ended:
        timeline_entry_add(
            incident,
            None,
            TimelineEntry.Kind.AUTOMATION,
            body=f"Escalation stopped: the incident is {incident.status}.",
            data={"escalation_state": state},
        )


def _people(
    organization_id: int, escalation: Escalation, step: dict, now, resolved: dict
) -> tuple[list, list]:
    """(user, reason) pairs the step pages now, each person once; and timeline notes on
    targets that page nobody. ``resolved`` keeps what targets resolved to at ``now``, so
    a batch of escalations paging the same schedule resolves it once."""
    position = escalation.step + 1
    chosen: dict[int, tuple] = {}
    notes = []
    if not step["targets"]:
        notes.append(f"Step {position} names nobody (its targets were deleted); it pages nobody.")
    for target in step["targets"]:
        key = (target["kind"], target["id"])
        if key not in resolved:
            try:
                resolved[key] = targets.resolve(organization_id, target, now)
            except Exception:  # one broken target must not stop the step's others
                log.exception("step target %s could not be resolved", key)
                resolved[key] = None
        found = resolved[key]
        if found is None:
            notes.append(
                f"Step {position}: {target['kind']} {target['name']} could not be resolved; "
                "it pages nobody."
            )
            continue
        label = f"{target['kind']} {target['name']}"
        if not found.people:
            why = "no longer exists" if found.gone else "has nobody to page"
            notes.append(f"Step {position}: {label} {why}; it pages nobody.")
        for person in found.people:
            chosen.setdefault(person.pk, (person, f"Step {position}: {label}"))
    people = list(chosen.values())
    if step.get("round_robin") and len(people) > 1:
        turn = Step.objects.for_org(organization_id).select_for_update().filter(pk=step["id"])
        row = turn.first()
        if row is not None:
            index = row.round_robin_next % len(people)
            turn.update(round_robin_next=F("round_robin_next") + 1)
        else:  # the step was deleted since: take turns by repeat
            index = escalation.repeat % len(people)
        people = [people[index]]
    return people, notes


def _advance(escalation: Escalation, incident: Incident, now, resolved: dict | None = None) -> list:
    """Pages the escalation's current step and moves it to the next one (or the next
    repeat, or ``exhausted``); returns the pages written."""
    snapshot = escalation.snapshot
    steps = snapshot.get("steps") or []
    if escalation.step >= len(steps):
        _end(escalation, Escalation.State.EXHAUSTED, now=now)
        return []
    step = steps[escalation.step]
    people, notes = _people(
        incident.organization_id, escalation, step, now, {} if resolved is None else resolved
    )
    pages = pages_write(
        incident, people, escalation=escalation, step=escalation.step, repeat=escalation.repeat
    )
    escalation.next_escalation_at = now + timedelta(
        seconds=step["delay_minutes"] * settings.ONCALL_MINUTE_SECONDS
    )
    if escalation.step + 1 < len(steps):
        escalation.step += 1
    elif escalation.repeat < snapshot.get("repeat", 0):
        escalation.step = 0
        escalation.repeat += 1
    else:
        escalation.state = Escalation.State.EXHAUSTED
        escalation.next_escalation_at = None
        escalation.ended_at = now
        notes.append(f"Escalation policy {snapshot['name']} has paged every step; it is done.")
    escalation.save(update_fields=["step", "repeat", "state", "next_escalation_at", "ended_at"])
    TimelineEntry.objects.bulk_create(
        [
            timeline_entry_build(
                incident, None, TimelineEntry.Kind.NOTIFICATION, body=note, data={"nobody": True}
            )
            for note in notes
        ]
    )
    metrics.count_after_commit(advanced=1)
    return pages


def _tick_one(escalation: Escalation, incident: Incident | None, now, resolved: dict) -> bool:
    """Advances one due escalation the caller has locked, with its incident (locked too);
    False when the incident is locked by a change in flight (None: the next tick tries
    again)."""
    if incident is None:
        return False
    if incident.status != Status.NEW:  # a stop that never ran (data from before the engine)
        _end(escalation, ENDED_BY.get(incident.status, Escalation.State.CANCELLED), now=now)
        pages_close(incident)
        return True
    try:
        with transaction.atomic():
            _advance(escalation, incident, now, resolved)
    except Exception:  # one broken escalation must not hold up the organization's others
        log.exception("escalation %s could not advance", escalation.pk)
        return False
    return True


def _lock_round_robin_steps(organization_id: int, due: list[Escalation]) -> None:
    """Locks the round-robin steps the batch will page, in id order, before any of them:
    two ticks taking their turns in different orders would otherwise deadlock."""
    ids = set()
    for escalation in due:
        steps = escalation.snapshot.get("steps") or []
        if escalation.step < len(steps) and steps[escalation.step].get("round_robin"):
            ids.add(steps[escalation.step]["id"])
    if ids:
        list(
            Step.objects.for_org(organization_id)
            .filter(pk__in=ids)
            .select_for_update()
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def escalations_tick(*, organization_id: int) -> int:
    """Pages every due escalation of the organization, a batch per transaction; returns
    how many it advanced. Two ticks at once share the work and never page twice: each
    takes only the rows nobody holds."""
    advanced = 0
    passed: set[int] = set()
    for _ in range(TICK_BATCHES):
        with rls.tenant_context(organization_id):
            now = timezone.now()
            # SKIP LOCKED where the database has it (PostgreSQL); SQLite serializes
            # writers and ignores FOR UPDATE.
            due = list(
                Escalation.objects.for_org(organization_id)
                .filter(state=Escalation.State.ACTIVE, next_escalation_at__lte=now)
                .exclude(pk__in=passed)
                .select_for_update(skip_locked=True)
                .order_by("next_escalation_at", "pk")[:TICK_BATCH]
            )
            # Their incidents in one statement, skipping those a change holds (escalation
            # first, then incident: the order a status change never takes the other way).
            incidents = {
                incident.pk: incident
                for incident in Incident.objects.for_org(organization_id)
                .select_for_update(skip_locked=True)
                .filter(pk__in=[escalation.incident_id for escalation in due])
            }
            _lock_round_robin_steps(organization_id, due)
            resolved: dict = {}
            for escalation in due:
                incident = incidents.get(escalation.incident_id)
                if _tick_one(escalation, incident, now, resolved):
                    advanced += 1
                else:
                    passed.add(escalation.pk)
        if len(due) < TICK_BATCH:
            break
    return advanced


@rls.in_tenant
def escalation_escalate_now(*, organization, actor, incident: Incident) -> Escalation:
    """A responder moves the running escalation on: its next step pages now."""
    incident = lock_incident(organization, incident)
    if incident.status != Status.NEW:
        raise Conflict(f"The incident is {incident.status}: it does not escalate.")
    escalation = _active(incident).select_for_update().first()
    if escalation is None:
        raise Conflict("No escalation is running on this incident.")
    now = timezone.now()
    escalation.next_escalation_at = now
    timeline_entry_add(
        incident,
        actor,
        TimelineEntry.Kind.AUTOMATION,
        body="Escalated by hand: the next step pages now.",
        data={"escalation": escalation.pk, "step": escalation.step},
    )
    _advance(escalation, incident, now)
    return escalation
