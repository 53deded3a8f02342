"""The range of dates on-call computes with: from 1970 to the year 9000, far from the ends
of Python's calendar, so adding a horizon, a week or a time zone to any accepted value
never overflows."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError

EARLIEST_YEAR, LATEST_YEAR = 1970, 9000
MESSAGE = f"Give a date between {EARLIEST_YEAR} and {LATEST_YEAR}."


def in_range(value: date | datetime) -> bool:
    year = value.astimezone(UTC).year if isinstance(value, datetime) else value.year
    return EARLIEST_YEAR <= year <= LATEST_YEAR


def validate_in_range(value) -> None:
    """A model and form validator."""
    if value is not None and not in_range(value):
        raise ValidationError(MESSAGE)
