"""On-call: schedules (who is on call when), escalation policies (whom to page, in what
order), the escalations running on incidents and the pages they send.

A schedule has layers; each layer rotates its participants in order, one shift each,
handing off at a local time in the schedule's zone (a day is a calendar day, so a shift
across a DST change is 23 or 25 hours), only within its restrictions if it has any. Where
several layers have someone, the highest wins; an override (someone covers a time range,
also what an accepted swap becomes) wins over every layer.

An escalation policy is a list of steps, each paging its targets (people, teams,
schedules) and waiting ``delay_minutes`` for an acknowledgement before the next step; after
the last step the policy starts again, ``repeat`` more times. A service's policy wins over
its team's. An incident's escalation runs from a snapshot of the policy taken when it
started, so editing or deleting the policy never changes it; the database is its clock
(``next_escalation_at``), and each page is written once per (escalation, step, repeat,
person) under a unique constraint."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.timezone import now
from timezone_field import TimeZoneField

from core.text import LineField
from incidents.models import Incident, Service, person_field
from oncall.bounds import validate_in_range
from oncall.restrictions import validate_restrictions
from tenancy.models import Team, TenantModel

MAX_REPEAT = 9


class Schedule(TenantModel):
    name = LineField(max_length=100)
    description = models.TextField(blank=True)
    time_zone = TimeZoneField(
        default="UTC", use_pytz=False, help_text="Handoffs and restrictions are in this zone."
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules"
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="schedule_name")
        ]

    def __str__(self):
        return self.name


class Layer(TenantModel):
    class Unit(models.TextChoices):
        HOURS = "hours", "Hours"
        DAYS = "days", "Days"
        WEEKS = "weeks", "Weeks"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = LineField(max_length=100)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Where layers overlap, the highest position wins."
    )
    rotation_start = models.DateField(
        validators=[validate_in_range],
        help_text="The first shift starts on this day at the handoff time (schedule's zone).",
    )
    handoff_time = models.TimeField(default=time(9))
    shift_length = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    shift_unit = models.CharField(max_length=5, choices=Unit.choices, default=Unit.WEEKS)
    restrictions = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_restrictions],
        help_text='When the layer has someone, in the schedule\'s zone, e.g. [{"days": '
        '["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]; '
        "an end before the start runs past midnight; none: always.",
    )

    class Meta:
        ordering = ["schedule", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "schedule", "position"], name="layer_position"
            )
        ]

    def __str__(self):
        return f"{self.schedule} – {self.name}"


class Participant(TenantModel):
    """A person in a layer's rotation; shifts go round in ``position`` order."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["layer", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "layer", "position"], name="participant_position"
            )
        ]

    def __str__(self):
        return str(self.user)


class Override(TenantModel):
    """Someone covers the schedule from ``start`` to ``end``, whoever the layers name."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_by = person_field()
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="override_span"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "schedule", "end"], name="override_schedule_end")
        ]

    def __str__(self):
        return f"{self.user} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M}"


class Swap(TenantModel):
    """A shift a responder offers; a colleague who accepts it covers it (an override)."""

    class Status(models.TextChoices):
        OFFERED = "offered", "Offered"
        ACCEPTED = "accepted", "Accepted"
        CANCELLED = "cancelled", "Cancelled"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="swaps")
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFERED)
    taken_by = person_field()
    override = models.OneToOneField(
        Override, null=True, blank=True, on_delete=models.SET_NULL, related_name="swap"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="swap_span")
        ]

    def __str__(self):
        return f"{self.offered_by} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M}"


class EscalationPolicy(TenantModel):
    name = LineField(max_length=100)
    description = models.TextField(blank=True)
    repeat = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_REPEAT)],
        help_text="How many more times the whole policy runs when nobody acknowledges.",
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name_plural = "escalation policies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="escalation_policy_name")
        ]

    def __str__(self):
        return self.name


class Step(TenantModel):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    delay_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="Minutes to wait for an acknowledgement before the next step.",
    )
    round_robin = models.BooleanField(
        default=False,
        help_text="Page one of the step's people at a time, taking turns across incidents.",
    )
    round_robin_next = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = "escalation step"
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "policy", "position"], name="step_position"
            )
        ]

    def __str__(self):
        return f"{self.policy} – step {self.position + 1}"


class StepTarget(TenantModel):
    """Whom a step pages: one person, a team's members or whoever a schedule has on call."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="targets")
    position = models.PositiveSmallIntegerField(default=0)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    schedule = models.ForeignKey(
        Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["step", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, team=None, schedule=None)
                    | models.Q(user=None, team__isnull=False, schedule=None)
                    | models.Q(user=None, team=None, schedule__isnull=False)
                ),
                name="step_target_one_kind",
            )
        ]

    def __str__(self):
        return str(self.user or self.team or self.schedule)


class ServicePolicy(TenantModel):
    """The policy that pages for a service's incidents (wins over its team's)."""

    service = models.OneToOneField(
        Service, on_delete=models.CASCADE, primary_key=True, related_name="escalation"
    )
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="+")

    def __str__(self):
        return f"{self.service} → {self.policy}"


class TeamPolicy(TenantModel):
    """The policy that pages for a team's incidents when their service has none."""

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, primary_key=True, related_name="escalation"
    )
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="+")

    def __str__(self):
        return f"{self.team} → {self.policy}"


class Escalation(TenantModel):
    """A policy running on an incident, from the snapshot taken when it started.

    ``step`` and ``repeat`` name the step that pages next, at ``next_escalation_at``; an
    escalation that is no longer active has no next time. One active escalation per
    incident: a restart (the incident went to another team) ends the old one first."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        CANCELLED = "cancelled", "Cancelled"
        EXHAUSTED = "exhausted", "Every step and repeat paged"
        REPLACED = "replaced", "Replaced by another policy"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="escalations")
    policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snapshot = models.JSONField(help_text="The policy as it was when the escalation started.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    step = models.PositiveSmallIntegerField(default=0)
    repeat = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "incident"],
                condition=models.Q(state="active"),
                name="escalation_one_active",
            )
        ]
        indexes = [
            models.Index(
                fields=["organization", "next_escalation_at"],
                condition=models.Q(state="active"),
                name="escalation_due",
            )
        ]

    def __str__(self):
        return f"{self.incident} – {self.snapshot.get('name', '')}"


class Page(TenantModel):
    """One person asked to respond to an incident: by an escalation step or by hand."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for acknowledgement"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLOSED = "closed", "Closed (acknowledged by someone else, or resolved)"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="pages")
    escalation = models.ForeignKey(
        Escalation, null=True, blank=True, on_delete=models.CASCADE, related_name="pages"
    )
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    repeat = models.PositiveSmallIntegerField(null=True, blank=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pages"
    )
    reason = models.CharField(max_length=200, help_text="Why this person, e.g. the schedule.")
    sent_by = person_field(help_text="Who paged by hand; empty for an escalation step.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=now, editable=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "escalation", "step", "repeat", "recipient"],
                condition=models.Q(escalation__isnull=False),
                name="page_once_per_step",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "recipient", "status"], name="page_recipient"),
            models.Index(fields=["organization", "incident"], name="page_incident"),
        ]

    def __str__(self):
        return f"{self.recipient} for {self.incident}"
