"""A layer's restrictions: the local times of the week when it has someone on call.

``[{"days": ["mon", …], "start": "HH:MM", "end": "HH:MM"}, …]``; a window whose end is
not after its start runs past midnight into the next day (from "22:00" to "06:00"), and
"00:00" to "00:00" is the whole day. No restrictions: always."""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOWS = 50


def parse_time(value) -> time:
    if not isinstance(value, str):
        raise ValueError
    hours, _, minutes = value.partition(":")
    if len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError
    return time(int(hours), int(minutes))


def validate_restrictions(value) -> None:
    if value in (None, ""):
        return
    if not isinstance(value, list):
        raise ValidationError('Give a list of {"days", "start", "end"} windows.')
    if len(value) > MAX_WINDOWS:
        raise ValidationError(f"At most {MAX_WINDOWS} windows.")
    for index, window in enumerate(value):
        where = f"Window {index + 1}"
        if not isinstance(window, dict) or set(window) - {"days", "start", "end"}:
            raise ValidationError(f'{where}: give an object with "days", "start" and "end".')
        days = window.get("days", list(DAYS))
        if not isinstance(days, list) or not days or any(day not in DAYS for day in days):
            raise ValidationError(f"{where}: days are a list of {', '.join(DAYS)}.")
        for key in ("start", "end"):
            try:
                parse_time(window.get(key))
            except ValueError:
                raise ValidationError(f'{where}: {key} is a time like "09:00".') from None
