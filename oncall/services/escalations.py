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

import dataclasses
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
from oncall.services.pages import PageRequest, pages_close, pages_write_many
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


class _Turns:
    """The next turn of each round-robin step a batch pages, read under a lock taken in
    id order before any of them (two ticks taking turns in different orders would
    otherwise deadlock); :meth:`save` moves each step on by the turns taken."""

    def __init__(self, organization_id: int, due: list[Escalation]):
        self.organization_id = organization_id
        ids = set()
        for escalation in due:
            step = _current_step(escalation)
            if step.get("round_robin") and isinstance(step.get("id"), int):
                ids.add(step["id"])
        self.next = {}
        if ids:
            self.next = dict(
                Step.objects.for_org(organization_id)
                .filter(pk__in=ids)
                .select_for_update()
                .order_by("pk")
                .values_list("pk", "round_robin_next")
            )
        self.taken: dict[int, int] = {}

    def take(self, step_id: int) -> int | None:
        """The step's turn (None: the step was deleted since the snapshot)."""
        if step_id not in self.next:
            return None
        turn = self.next[step_id] + self.taken.get(step_id, 0)
        self.taken[step_id] = self.taken.get(step_id, 0) + 1
        return turn

    def save(self) -> None:
        for step_id, count in self.taken.items():
            Step.objects.for_org(self.organization_id).filter(pk=step_id).update(
                round_robin_next=F("round_robin_next") + count
            )


@dataclasses.dataclass
class _Move:
    """What advancing one escalation writes: the step's pages, timeline notes on targets
    that paged nobody, and the escalation's new position."""

    escalation: Escalation
    page: PageRequest
    notes: list[str]
    changes: dict
    at: object  # the moment the step was due and decided: the pages' time


ADVANCED_FIELDS = ["step", "repeat", "state", "next_escalation_at", "ended_at"]


def _current_step(escalation: Escalation) -> dict:
    """The snapshot's step the escalation pages next; empty when there is none or it is
    not one (a snapshot damaged by hand fails that escalation alone, in :func:`_decide`)."""
    snapshot = escalation.snapshot if isinstance(escalation.snapshot, dict) else {}
    steps = snapshot.get("steps")
    if isinstance(steps, list) and 0 <= escalation.step < len(steps):
        step = steps[escalation.step]
        if isinstance(step, dict):
            return step
    return {}


def _current_targets(escalation: Escalation) -> list:
    targets = _current_step(escalation).get("targets")
    return [t for t in targets if isinstance(t, dict)] if isinstance(targets, list) else []


class _Found:
    """Whom the targets of a batch's current steps page now: read once for the batch
    (:class:`oncall.targets.Resolver`), each target resolved once; a target that cannot
    be resolved is None, and logged, so one broken target stops none of the others."""

    def __init__(self, organization_id: int, due: list[Escalation], now):
        wanted = [target for escalation in due for target in _current_targets(escalation)]
        self.resolver = targets.Resolver(organization_id, wanted, since=now)
        self.now = now
        self.cache: dict = {}

    def of(self, target: dict):
        key = (target.get("kind"), target.get("id"))
        if key not in self.cache:
            try:
                self.cache[key] = self.resolver.resolve(target, self.now)
            except Exception:
                log.exception("step target %s could not be resolved", key)
                self.cache[key] = None
        return self.cache[key]


def _people(escalation: Escalation, step: dict, found: _Found, turns: _Turns) -> tuple[list, list]:
    """(user, reason) pairs the step pages now, each person once; and timeline notes on
    targets that page nobody."""
    position = escalation.step + 1
    chosen: dict[int, tuple] = {}
    notes = []
    if not step["targets"]:
        notes.append(f"Step {position} names nobody (its targets were deleted); it pages nobody.")
    for target in step["targets"]:
        label = f"{target['kind']} {target['name']}"
        resolution = found.of(target)
        if resolution is None:
            notes.append(f"Step {position}: {label} could not be resolved; it pages nobody.")
            continue
        if not resolution.people:
            notes.append(f"Step {position}: {label} {resolution.why}; it pages nobody.")
        for person in resolution.people:
            chosen.setdefault(person.pk, (person, f"Step {position}: {label}"))
    people = list(chosen.values())
    if step.get("round_robin") and len(people) > 1:
        turn = turns.take(step["id"])
        if turn is None:  # the step was deleted since: take turns by repeat
            turn = escalation.repeat
        people = [people[turn % len(people)]]
    return people, notes


def _decide(escalation: Escalation, incident: Incident, now, found: _Found, turns) -> _Move:
    """Who the escalation's current step pages now, and where it goes next (the next
    step, the next repeat, or ``exhausted``); writes nothing but the turns it takes."""
    snapshot = escalation.snapshot
    steps = snapshot.get("steps") or []
    if escalation.step >= len(steps):
        ended = {"state": Escalation.State.EXHAUSTED, "next_escalation_at": None, "ended_at": now}
        return _Move(escalation, PageRequest(incident, []), [], ended, now)
    step = steps[escalation.step]
    # Where it goes next first: what fails here must fail before a round-robin turn is taken.
    delay = timedelta(seconds=step["delay_minutes"] * settings.ONCALL_MINUTE_SECONDS)
    changes = {"next_escalation_at": now + delay}
    done = None
    if escalation.step + 1 < len(steps):
        changes["step"] = escalation.step + 1
    elif escalation.repeat < snapshot.get("repeat", 0):
        changes.update(step=0, repeat=escalation.repeat + 1)
    else:
        changes.update(state=Escalation.State.EXHAUSTED, next_escalation_at=None, ended_at=now)
        done = f"Escalation policy {snapshot['name']} has paged every step; it is done."
    people, notes = _people(escalation, step, found, turns)
    if done:
        notes.append(done)
    page = PageRequest(incident, people, escalation, escalation.step, escalation.repeat)
    return _Move(escalation, page, notes, changes, now)


def _write(moves: list[_Move], turns: _Turns) -> None:
    """Writes the moves of one organization's escalations with a statement per table."""
    if not moves:
        return
    notes = [
        timeline_entry_build(
            move.page.incident,
            None,
            TimelineEntry.Kind.NOTIFICATION,
            body=note,
            data={"nobody": True},
        )
        for move in moves
        for note in move.notes
    ]
    pages_write_many([move.page for move in moves], extra_entries=notes, at=moves[0].at)
    # Escalations moving the same way (the same step, repeat and due time: most of a
    # batch) are one UPDATE each.
    moving: dict[tuple, list[int]] = {}
    for move in moves:
        for field, value in move.changes.items():
            setattr(move.escalation, field, value)
        values = tuple(getattr(move.escalation, field) for field in ADVANCED_FIELDS)
        moving.setdefault(values, []).append(move.escalation.pk)
    for values, ids in moving.items():
        Escalation.objects.for_org(turns.organization_id).filter(pk__in=ids).update(
            **dict(zip(ADVANCED_FIELDS, values, strict=True))
        )
    turns.save()
    metrics.count_after_commit(advanced=len(moves))


def _advance_alone(escalation: Escalation, incident: Incident, now, found: _Found) -> bool:
    """Advances one escalation in its own savepoint (after its batch failed to write);
    False when it cannot, which leaves it due for the next tick."""
    try:
        with transaction.atomic():
            escalation.refresh_from_db(fields=ADVANCED_FIELDS)
            turns = _Turns(incident.organization_id, [escalation])
            _write([_decide(escalation, incident, now, found, turns)], turns)
    except Exception:
        log.exception("escalation %s could not advance", escalation.pk)
        return False
    return True


def _tick_batch(organization_id: int, due: list[Escalation], incidents: dict, now) -> set[int]:
    """Advances a batch of due escalations the caller has locked, with their incidents
    (locked too; one missing is held by a change in flight, and the next tick tries
    again); returns the ids it left due.

    The batch is written with a statement per table. One escalation that cannot be
    decided (a broken snapshot) is left out and logged; a batch that fails to write is
    written again one escalation at a time, so one bad row never holds up the others."""
    turns = _Turns(organization_id, due)  # locks held until the batch's transaction ends
    found = _Found(organization_id, due, now)
    moves, left = [], set()
    for escalation in due:
        incident = incidents.get(escalation.incident_id)
        if incident is None:
            left.add(escalation.pk)
        elif incident.status != Status.NEW:  # a stop that never ran (data from before)
            _end(escalation, ENDED_BY.get(incident.status, Escalation.State.CANCELLED), now=now)
            pages_close(incident)
        else:
            try:
                moves.append(_decide(escalation, incident, now, found, turns))
            except Exception:
                log.exception("escalation %s could not advance", escalation.pk)
                left.add(escalation.pk)
    try:
        with transaction.atomic():
            _write(moves, turns)
    except Exception:
        log.exception("%d escalations could not be written together", len(moves))
        for move in moves:
            if not _advance_alone(move.escalation, move.page.incident, now, found):
                left.add(move.escalation.pk)
    return left


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
            left = _tick_batch(organization_id, due, incidents, now)
            advanced += len(due) - len(left)
            passed |= left
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
    timeline_entry_add(
        incident,
        actor,
        TimelineEntry.Kind.AUTOMATION,
        body="Escalated by hand: the next step pages now.",
        data={"escalation": escalation.pk, "step": escalation.step},
    )
    turns = _Turns(organization.pk, [escalation])
    found = _Found(organization.pk, [escalation], now)
    _write([_decide(escalation, incident, now, found, turns)], turns)
    return escalation
