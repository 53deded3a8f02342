"""What the incident record's models share: the people named on a row, the ITIL levels,
priorities and severities, and which times are plausible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils.timezone import now


def person_field(**options):
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


# When an incident occurred and was detected come from people and other systems. A time far
# from the present is a mistake, and near the ends of the calendar (year 1, year 9999) the
# SLA clock and the display in an organization's time zone overflow.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)  # how far ahead another system's clock may run


def plausible_time(value: datetime) -> bool:
    """Between 1970 and a day from now."""
    return EARLIEST_TIME <= value <= now() + CLOCK_SKEW
