"""SLA targets per priority and the organization's business hours."""

from __future__ import annotations

from django.db import models

from incidents.models.common import Priority
from tenancy.models import TenantModel


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
