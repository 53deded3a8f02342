"""The SLA rules, as small steps the incident services call inside their transaction.

Each step changes the incident in memory and returns the names of the fields it changed;
the service saves them together with its own. The arithmetic lives in :mod:`incidents.sla`.

- Due times start from ``detected_at``: response = start + time to acknowledge,
  resolve = start + time to resolve + paused credit.
- The response clock stops at the first acknowledgement (acknowledged, in progress or
  resolved). On hold pauses only the resolve clock.
- Leaving on hold pushes ``resolve_due_at`` later by the paused span and adds it to
  ``sla_paused_seconds``; a reopen does the same for the time spent resolved, so the clock
  resumes from the time already used.
- Business targets count the organization's business hours (credit in business seconds);
  24x7 targets use plain arithmetic.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from incidents import sla
from incidents.models import BusinessHours, Incident, SlaTarget, TimelineEntry
from incidents.states import Status
from tenancy import audit, rls

H = timedelta(hours=1)
BUSINESS_DAY = 8 * H  # the default calendar's hours in a day (09:00-17:00)
# priority: (time to acknowledge, time to resolve, business hours only)
DEFAULT_TARGETS = {
    1: (timedelta(minutes=15), 4 * H, False),
    2: (timedelta(minutes=30), 8 * H, False),
    3: (4 * H, 3 * BUSINESS_DAY, True),
    4: (1 * BUSINESS_DAY, 5 * BUSINESS_DAY, True),
    5: (2 * BUSINESS_DAY, 10 * BUSINESS_DAY, True),
}
DEFAULT_HOURS = [(weekday, time(9), time(17)) for weekday in range(5)]  # Mon-Fri


def defaults_create(organization) -> None:
    """The design's targets and Mon-Fri 09:00-17:00, for a new organization."""
    SlaTarget.objects.bulk_create(
        [
            SlaTarget(
                organization=organization,
                priority=priority,
                time_to_acknowledge=ack,
                time_to_resolve=resolve,
                business_hours_only=business,
            )
            for priority, (ack, resolve, business) in DEFAULT_TARGETS.items()
        ],
        ignore_conflicts=True,
    )
    if not BusinessHours.objects.for_org(organization).exists():
        BusinessHours.objects.bulk_create(
            [
                BusinessHours(organization=organization, weekday=w, start=s, end=e)
                for w, s, e in DEFAULT_HOURS
            ]
        )


class Clock:
    """Business or 24x7 arithmetic in the organization's calendar and timezone.

    A business target in an organization without any business hours counts 24x7.
    """

    def __init__(self, organization, *, business: bool):
        self.tz = organization.timezone
        self.calendar = []
        if business:
            self.calendar = list(
                BusinessHours.objects.for_org(organization).values_list("weekday", "start", "end")
            )
        self.business = business and bool(self.calendar)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return sla.add_time(start, duration, self.calendar, self.tz, business=self.business)

    def between(self, start: datetime, end: datetime) -> timedelta:
        return sla.time_between(start, end, self.calendar, self.tz, business=self.business)


class Policy:
    """An organization's targets and calendar, read once for many incidents."""

    def __init__(self, organization):
        self.organization = organization
        self.targets = {
            target.priority: target for target in SlaTarget.objects.for_org(organization)
        }
        self.clocks: dict[bool, Clock] = {}

    def target(self, incident: Incident) -> SlaTarget | None:
        return self.targets.get(incident.priority)

    def clock(self, incident: Incident) -> Clock:
        business = incident.sla_business_hours
        if business not in self.clocks:
            self.clocks[business] = Clock(self.organization, business=business)
        return self.clocks[business]


def _target(incident: Incident) -> SlaTarget | None:
    return (
        SlaTarget.objects.for_org(incident.organization_id)
        .filter(priority=incident.priority)
        .first()
    )


def _clock(incident: Incident) -> Clock:
    return Clock(incident.organization, business=incident.sla_business_hours)


def start(incident: Incident, now: datetime, policy: Policy | None = None) -> list[str]:
    """Due times of a new incident, from its detection time."""
    return retarget(incident, now, policy)


def retarget(incident: Incident, now: datetime, policy: Policy | None = None) -> list[str]:
    """Due times for the incident's (new) priority: start + target (+ paused credit).

    Clocks already stopped keep their due times; paused time is kept, and a paused
    incident stays paused. Recorded breaches stay recorded.
    """
    target = _target(incident) if policy is None else policy.target(incident)
    fields = ["response_due_at", "resolve_due_at", "sla_business_hours"]
    if target is None:
        if incident.is_open:
            incident.response_due_at = incident.resolve_due_at = None
        return fields
    incident.sla_business_hours = target.business_hours_only
    clock = _clock(incident) if policy is None else policy.clock(incident)
    begin = incident.detected_at
    if incident.is_open and incident.acknowledged_at is None and incident.resolved_at is None:
        incident.response_due_at = clock.add(begin, target.time_to_acknowledge)
    if incident.is_open:
        credit = timedelta(seconds=incident.sla_paused_seconds)
        incident.resolve_due_at = clock.add(begin, target.time_to_resolve + credit)
    return fields + sla.sla_refresh(incident, now)


def _credit(incident: Incident, since: datetime, now: datetime) -> list[str]:
    """The resolve clock was stopped from ``since`` to ``now``: push its due time."""
    if incident.resolve_due_at is None:
        return []
    clock = _clock(incident)
    span = clock.between(since, now)
    incident.sla_paused_seconds += int(span.total_seconds())
    incident.resolve_due_at = clock.add(incident.resolve_due_at, span)
    return ["sla_paused_seconds", "resolve_due_at"]


def transition(incident: Incident, target: str, now: datetime) -> list[str]:
    """Called before the service moves ``incident`` (still in its old status) to ``target``."""
    fields = []
    if incident.sla_paused_at is not None and target != Status.ON_HOLD:  # leaving on hold
        fields += _credit(incident, incident.sla_paused_at, now)
        incident.sla_paused_at = None
        fields.append("sla_paused_at")
    if incident.status == Status.RESOLVED and target == Status.IN_PROGRESS:  # reopened
        fields += _credit(incident, incident.resolved_at, now)
    fields += sla.sla_refresh(incident, now)  # before a clock stops: did it run out?
    if target == Status.ON_HOLD and incident.resolve_due_at is not None:
        incident.sla_paused_at = now
        fields.append("sla_paused_at")
    return fields


# --- the periodic check --------------------------------------------------------------------

CHECK_BATCH = 200


def overdue(incidents, now: datetime):
    """Open incidents with a running clock past its due time and no breach recorded yet."""
    return incidents.open().filter(
        Q(
            response_breached=False,
            response_due_at__lt=now,
            acknowledged_at__isnull=True,
            resolved_at__isnull=True,
        )
        | Q(resolve_breached=False, resolve_due_at__lt=now, sla_paused_at__isnull=True)
    )


def check_organization(organization_id: int, batch: int = CHECK_BATCH) -> int:
    """Marks the breaches of one organization as of now, a batch per transaction; rows
    another worker holds are skipped (the next run gets them). Returns how many incidents
    were marked."""
    now, marked, last = timezone.now(), 0, 0
    while True:
        with rls.tenant_context(organization_id):
            rows = list(
                overdue(Incident.objects.for_org(organization_id), now)
                .filter(pk__gt=last)
                .order_by("pk")
                .select_for_update(skip_locked=True)[:batch]
            )
            for incident in rows:
                fields = sla.sla_refresh(incident, now)
                if not fields:
                    continue
                incident.save(update_fields=fields)
                marked += 1
                for field in fields:
                    TimelineEntry.objects.create(
                        organization_id=organization_id,
                        incident=incident,
                        kind=TimelineEntry.Kind.FIELD_CHANGED,
                        actor_label=audit.actor_label(None),
                        data={"field": field, "from": False, "to": True},
                    )
        if len(rows) < batch:
            return marked
        last = rows[-1].pk
