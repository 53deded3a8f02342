"""SLA clock arithmetic: pure functions, no database.

A *calendar* is an iterable of ``(weekday, start, end)`` rows (weekday 0 = Monday, ``start``
and ``end`` are ``datetime.time`` values in the organization's local time, ``end > start``);
several rows per weekday are allowed and may overlap. Business time is the real elapsed
time that falls inside those local intervals, so a DST change shortens or lengthens only
the intervals it actually crosses.

All arithmetic is done in UTC: aware datetimes that share a ``zoneinfo`` tzinfo compare and
subtract as wall-clock times in Python, which is wrong across a DST change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZERO = timedelta(0)
# A calendar with business hours finds them within two weeks; a whole year without any
# (a broken calendar) is an error rather than an endless loop.
_MAX_DAYS = 366

Calendar = Iterable[tuple[int, time, time]]


def normalize(calendar: Calendar) -> dict[int, list[tuple[time, time]]]:
    """Weekday -> sorted, merged, non-empty intervals."""
    days: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in calendar:
        if end > start:
            days.setdefault(int(weekday), []).append((start, end))
    for weekday, intervals in days.items():
        merged: list[tuple[time, time]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        days[weekday] = merged
    return days


def _intervals_on(day: date, days: dict, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's business intervals as UTC datetimes (a nonexistent local time, inside a
    spring-forward gap, maps to the instant the clocks jumped over it)."""
    result = []
    for start, end in days.get(day.weekday(), ()):
        s = datetime.combine(day, start, tzinfo=tz).astimezone(UTC)
        e = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
        if e > s:
            result.append((s, e))
    return result


def _require_aware(*values: datetime) -> None:
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("SLA arithmetic needs timezone-aware datetimes.")


def add_business_time(
    start: datetime, duration: timedelta, calendar: Calendar, tz: ZoneInfo
) -> datetime:
    """The instant when ``duration`` of business time has passed since ``start``.

    A start outside business hours begins counting at the next business interval; a zero
    duration returns ``start`` unchanged. The result is in UTC.
    """
    _require_aware(start)
    if duration < ZERO:
        raise ValueError("duration must not be negative.")
    cursor = start.astimezone(UTC)
    if duration == ZERO:
        return cursor
    days = normalize(calendar)
    if not days:
        raise ValueError("The calendar has no business hours.")
    remaining = duration
    day = cursor.astimezone(tz).date() - timedelta(days=1)  # an interval may start earlier
    for _ in range(_MAX_DAYS * 4):
        for s, e in _intervals_on(day, days, tz):
            if e <= cursor:
                continue
            begin = max(s, cursor)
            available = e - begin
            if available >= remaining:
                return begin + remaining
            remaining -= available
            cursor = e
        day += timedelta(days=1)
    raise ValueError("The calendar has too few business hours.")


def business_time_between(
    start: datetime, end: datetime, calendar: Calendar, tz: ZoneInfo
) -> timedelta:
    """Business time inside ``[start, end]``; zero when ``end`` is not after ``start``."""
    _require_aware(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return ZERO
    days = normalize(calendar)
    total = ZERO
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for s, e in _intervals_on(day, days, tz):
            overlap = min(e, end) - max(s, start)
            if overlap > ZERO:
                total += overlap
        day += timedelta(days=1)
    return total


def add_time(start: datetime, duration: timedelta, calendar, tz, *, business: bool) -> datetime:
    """Business or 24x7 (plain) arithmetic."""
    if business:
        return add_business_time(start, duration, calendar, tz)
    return start + duration


def time_between(start: datetime, end: datetime, calendar, tz, *, business: bool) -> timedelta:
    if business:
        return business_time_between(start, end, calendar, tz)
    return max(end - start, ZERO)


# --- the clocks of one incident (attributes only, no database) -----------------------------


def response_running(incident) -> bool:
    """The response clock runs until the first acknowledgement (or resolution)."""
    return (
        incident.is_open
        and incident.response_due_at is not None
        and incident.acknowledged_at is None
        and incident.resolved_at is None
    )


def resolve_running(incident) -> bool:
    """The resolve clock runs while the incident is open and not on hold."""
    return (
        incident.is_open and incident.resolve_due_at is not None and incident.sla_paused_at is None
    )


def sla_refresh(incident, now: datetime) -> list[str]:
    """Marks the breaches that ``now`` reveals; returns the changed fields (not saved).

    A breach is a fact once recorded: nothing here clears one.
    """
    changed = []
    if (
        not incident.response_breached
        and response_running(incident)
        and now > incident.response_due_at
    ):
        incident.response_breached = True
        changed.append("response_breached")
    if (
        not incident.resolve_breached
        and resolve_running(incident)
        and now > incident.resolve_due_at
    ):
        incident.resolve_breached = True
        changed.append("resolve_breached")
    return changed
