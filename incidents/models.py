"""The incident domain: service catalog, categories, the priority matrix, incidents and
their immutable timeline. Every row carries its organization."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from core.text import LineField
from incidents.states import OPEN_STATES, Status
from tenancy.models import Team, TenantModel, TenantQuerySet


def _person(**options):
    """An optional person named on a row; emptied, not deleted, when the user goes."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **options,
    )


class Level(models.IntegerChoices):
    HIGH = 1, "1 – High"
    MEDIUM = 2, "2 – Medium"
    LOW = 3, "3 – Low"


class Priority(models.IntegerChoices):
    P1 = 1, "P1 – Critical"
    P2 = 2, "P2 – High"
    P3 = 3, "P3 – Moderate"
    P4 = 4, "P4 – Low"
    P5 = 5, "P5 – Planning"


class Severity(models.TextChoices):
    SEV1 = "sev1", "SEV1 – Critical"
    SEV2 = "sev2", "SEV2 – Major"
    SEV3 = "sev3", "SEV3 – Minor"
    SEV4 = "sev4", "SEV4 – Low"


class Category(TenantModel):
    slug = models.SlugField(max_length=50)
    name = LineField(max_length=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="category_slug")
        ]

    def __str__(self):
        return self.name


ALERT_SEVERITIES = ("critical", "error", "warning", "info")

# When an incident occurred and was detected come from people and other systems. A time far
# from the present is a mistake, and near the ends of the calendar (year 1, year 9999) the
# SLA clock and the display in an organization's time zone overflow.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)  # how far ahead another system's clock may run


def plausible_time(value: datetime) -> bool:
    """Between 1970 and a day from now."""
    return EARLIEST_TIME <= value <= now() + CLOCK_SKEW


def validate_alert_severity_map(value) -> None:
    """``{"<alert severity>": {"impact": 1-3, "urgency": 1-3, "severity": "sev1"…}}``."""
    if value in (None, ""):
        return
    if not isinstance(value, dict):
        raise ValidationError("Give an object keyed by alert severity.")
    for name, fields in value.items():
        if name not in ALERT_SEVERITIES:
            raise ValidationError(
                f"Unknown alert severity {name!r}: use {', '.join(ALERT_SEVERITIES)}."
            )
        if not isinstance(fields, dict):
            raise ValidationError(f"{name}: give an object with impact, urgency and/or severity.")
        for key, item in fields.items():
            if key not in ("impact", "urgency", "severity"):
                raise ValidationError(f"{name}: unknown field {key!r}.")
            if key in ("impact", "urgency") and (
                isinstance(item, bool) or item not in Level.values
            ):
                raise ValidationError(f"{name}.{key}: use 1, 2 or 3.")
            if key == "severity" and item not in Severity.values:
                raise ValidationError(f"{name}.severity: use one of {', '.join(Severity.values)}.")


class Service(TenantModel):
    class Health(models.TextChoices):
        OPERATIONAL = "operational", "Operational"
        DEGRADED = "degraded", "Degraded performance"
        PARTIAL_OUTAGE = "partial_outage", "Partial outage"
        MAJOR_OUTAGE = "major_outage", "Major outage"
        MAINTENANCE = "maintenance", "Under maintenance"

    slug = models.SlugField(max_length=50)
    name = LineField(max_length=200)
    description = models.TextField(blank=True)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="services",
        help_text="The team that owns the service and answers for its incidents.",
    )
    status = models.CharField(max_length=20, choices=Health.choices, default=Health.OPERATIONAL)
    alert_severity_map = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_alert_severity_map],
        help_text="How an alert's severity (critical, error, warning, info) sets a new "
        'incident\'s impact, urgency and severity, e.g. {"warning": {"impact": 2, '
        '"urgency": 2, "severity": "sev3"}}; severities left out keep the defaults.',
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="service_slug")
        ]

    def __str__(self):
        return self.name


class PriorityRule(TenantModel):
    """One cell of the organization's impact x urgency -> priority matrix."""

    impact = models.PositiveSmallIntegerField(choices=Level.choices)
    urgency = models.PositiveSmallIntegerField(choices=Level.choices)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)

    class Meta:
        ordering = ["impact", "urgency"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "impact", "urgency"], name="priority_rule_cell"
            )
        ]

    def __str__(self):
        return f"impact {self.impact} × urgency {self.urgency} → P{self.priority}"


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
    assignee = _person()
    reporter = _person()
    commander = _person()
    comms_lead = _person()
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
    actor = _person()
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


# --- Closure ---


class IncidentSettings(TenantModel):
    """Per-organization incident settings (one row per organization)."""

    auto_close_after_days = models.PositiveSmallIntegerField(
        default=5,
        help_text="Close resolved incidents after this many days without a reply from the "
        "reporter; 0 never closes them automatically.",
    )

    class Meta:
        verbose_name = "incident settings"
        verbose_name_plural = "incident settings"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="incident_settings_org")
        ]

    def __str__(self):
        return "Incident settings"


class IdempotencyKey(TenantModel):
    """A client's Idempotency-Key on a creating POST and the response it got."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    key = models.CharField(max_length=255)
    principal = models.CharField(max_length=100, help_text='"user:<id>" or "key:<id>".')
    request_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    owner_transaction = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="PostgreSQL transaction id of the request that claimed the key while it is "
        "in flight: when that transaction aborted, the key is free again.",
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "principal", "key"], name="idempotency_key_unique"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="idempotency_key_created")
        ]

    def __str__(self):
        return f"{self.principal} {self.key}"


# --- SLA ---


class SlaTarget(TenantModel):
    """How soon an incident of one priority must be acknowledged and resolved."""

    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    time_to_acknowledge = models.DurationField()
    time_to_resolve = models.DurationField()
    business_hours_only = models.BooleanField(
        default=False,
        help_text="Count only the organization's business hours (otherwise 24x7). A business "
        "day is the business hours of one day, e.g. 8 h for 09:00–17:00.",
    )

    class Meta:
        verbose_name = "SLA target"
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "priority"], name="sla_target_priority")
        ]

    def __str__(self):
        ack, resolve = self.time_to_acknowledge, self.time_to_resolve
        return f"P{self.priority}: acknowledge {ack}, resolve {resolve}"


class BusinessHours(TenantModel):
    """One span of business hours on a weekday, in the organization's timezone."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        verbose_name = "business hours"
        verbose_name_plural = "business hours"
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="business_hours_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="business_hours_weekday"
            ),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


# --- Attachments ---


# File systems limit a name in bytes (255 on most), and a character of a name in another
# script takes two to four of them: stored names are cut by bytes, well below the limit.
STORED_NAME_MAX_BYTES = 100


def cut_to_bytes(name: str, limit: int) -> str:
    """``name`` in at most ``limit`` bytes of UTF-8, never splitting a character, keeping a
    short extension (``.png``) so the stored file still says what it is."""
    if len(name.encode()) <= limit:
        return name
    stem, extension = posixpath.splitext(name)
    if len(extension.encode()) > limit // 4:
        stem, extension = name, ""
    budget = limit - len(extension.encode())
    return stem.encode()[:budget].decode("utf-8", "ignore") + extension


def attachment_upload_to(instance, filename: str) -> str:
    """attachments/<org id>/<incident id>/<uuid4>/<sanitized original name>."""
    import uuid

    from django.core.exceptions import SuspiciousFileOperation
    from django.utils.text import get_valid_filename

    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        name = cut_to_bytes(get_valid_filename(name), STORED_NAME_MAX_BYTES)
    except SuspiciousFileOperation:  # names like "." or ".."
        name = ""
    return (
        f"attachments/{instance.organization_id}/{instance.incident_id}/"
        f"{uuid.uuid4().hex}/{name or 'file'}"
    )


class Attachment(TenantModel):
    """A file attached to an incident; served only through permission-checked views."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_upload_to, max_length=255)
    original_name = LineField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = _person()
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["organization", "incident", "created_at"], name="attachment_incident"
            ),
        ]

    def __str__(self):
        return self.original_name


# --- Saved queue views ---


class SavedView(TenantModel):
    """A responder's own named set of queue filters (the queue's normalized query string)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = LineField(max_length=80)
    query = models.CharField(
        max_length=2000, blank=True, help_text="The queue's filters, as a query string."
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "owner", "name"], name="saved_view_owner_name"
            )
        ]

    def __str__(self):
        return self.name
