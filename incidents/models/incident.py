"""The incident, its per-organization numbering and its immutable timeline."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from core.text import LineField
from incidents.models.catalog import Category, Service
from incidents.models.common import Level, Priority, Severity, person_field
from incidents.states import OPEN_STATES, Status
from tenancy.models import Team, TenantModel, TenantQuerySet


class IncidentSequence(TenantModel):
    """The last incident number handed out in an organization (row-locked per use)."""

    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="incident_sequence_org")
        ]

    def __str__(self):
        return f"INC-{self.last_number}"


class IncidentQuerySet(TenantQuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATES)


class Incident(TenantModel):
    class Source(models.TextChoices):
        PORTAL = "portal", "Portal"
        API = "api", "API"
        ALERT = "alert", "Alert"
        EMAIL = "email", "E-mail"
        PHONE = "phone", "Phone"

    number = models.PositiveIntegerField(editable=False)
    title = LineField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    impact = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.LOW)
    urgency = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.LOW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.P5)
    priority_override_reason = models.CharField(
        max_length=500, blank=True, help_text="Set when a responder overrides the matrix."
    )
    severity = models.CharField(max_length=4, choices=Severity.choices, blank=True)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    assignee = person_field()
    reporter = person_field()
    commander = person_field()
    comms_lead = person_field()
    error_codes = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(default=now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    root_cause = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PORTAL)
    dedup_key = models.CharField(max_length=255, blank=True)
    # SLA
    response_due_at = models.DateTimeField(null=True, blank=True)
    resolve_due_at = models.DateTimeField(null=True, blank=True)
    sla_business_hours = models.BooleanField(
        default=False, help_text="The SLA target in force counts business hours only."
    )
    sla_paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while on hold: the resolve clock is stopped."
    )
    sla_paused_seconds = models.PositiveIntegerField(
        default=0,
        help_text="Time spent on hold (or resolved before a reopen), credited to the resolve "
        "clock; business seconds when the target counts business hours.",
    )
    response_breached = models.BooleanField(default=False)
    resolve_breached = models.BooleanField(default=False)
    # Closure
    satisfaction_score = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=[(n, str(n)) for n in range(1, 6)],
        help_text="1–5, given by the reporter when confirming the resolution.",
    )
    satisfaction_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="incident_number"),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="incident_org_recent"),
            models.Index(fields=["organization", "status"], name="incident_org_status"),
            models.Index(fields=["organization", "assignee"], name="incident_org_assignee"),
            models.Index(fields=["organization", "reporter"], name="incident_org_reporter"),
        ]
        permissions = [
            ("comment_incident", "Can comment on incidents"),
            ("post_update_incident", "Can post status updates on incidents"),
            ("confirm_incident", "Can confirm or reopen a resolved incident they reported"),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"INC-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES


class TimelineEntry(TenantModel):
    """An immutable record of something that happened to an incident."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        STATUS_CHANGED = "status_changed", "Status changed"
        FIELD_CHANGED = "field_changed", "Changed"
        ASSIGNED = "assigned", "Assigned"
        PRIORITY_OVERRIDDEN = "priority_overridden", "Priority overridden"
        COMMENT = "comment", "Comment"
        STATUS_UPDATE = "status_update", "Status update"
        NOTIFICATION = "notification", "Notification"
        AUTOMATION = "automation", "Automation"
        ATTACHMENT_ADDED = "attachment_added", "Attachment added"
        ATTACHMENT_REMOVED = "attachment_removed", "Attachment removed"
        REVIEW_PUBLISHED = "review_published", "Review published"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = person_field()
    actor_label = models.CharField(max_length=200)
    is_public = models.BooleanField(
        default=False, help_text="Shown to the reporter and stakeholders."
    )
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        verbose_name_plural = "timeline entries"
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["organization", "incident", "created_at"], name="timeline_incident"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Timeline entries are immutable.")
        super().save(*args, **kwargs)
