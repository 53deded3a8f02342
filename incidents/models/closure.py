"""Closure: how long a resolved incident waits for its reporter before it closes."""

from __future__ import annotations

from django.db import models

from tenancy.models import TenantModel


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
