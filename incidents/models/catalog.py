"""The service catalog, the categories and the impact x urgency -> priority matrix."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from core.text import LineField
from incidents.models.common import Level, Priority
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
