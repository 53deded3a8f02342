"""The service catalog, the categories and the impact x urgency -> priority matrix."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from core.text import LineField
from incidents.models.common import Level, Priority, Severity
from tenancy.models import Team, TenantModel


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
