"""iCalendar (RFC 5545) for schedules: shifts out to calendar apps, overrides in from them.

Export: one VEVENT per person and stretch of the resolved schedule, in UTC. A calendar app
refreshes a subscription by re-reading it and matches events by UID, so the UID of a shift
is derived from what identifies it (schedule, person, start): the same shift keeps its UID
from one refresh to the next, and a changed shift gets a new one.

Import: each VEVENT is read into a :class:`ImportedEvent` (who it names, when) or an error
for that event; any file the parser cannot read is one error, never an exception.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import icalendar

PRODID = "-//Beacon//On-call schedules//EN"
MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_EVENTS = 1_000


@dataclass(frozen=True)
class Shift:
    """One person on call for one schedule, from ``start`` to ``end``."""

    schedule: object
    user: object
    start: datetime
    end: datetime


def shift_uid(shift: Shift, domain: str) -> str:
    key = f"{shift.schedule.pk}:{shift.user.pk}:{shift.start.astimezone(UTC).isoformat()}"
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}"


def export(shifts, *, name: str, domain: str, stamp: datetime) -> bytes:
    """A calendar of ``shifts``; ``stamp`` is the DTSTAMP (when the file was made)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for shift in shifts:
        event = icalendar.Event()
        event.add("uid", shift_uid(shift, domain))
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("summary", f"On call: {shift.schedule.name} ({shift.user.get_username()})")
        if shift.user.email:
            event.add("attendee", f"mailto:{shift.user.email}")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()


@dataclass
class ImportedEvent:
    """A VEVENT as an override would need it: who (the names it gives, most specific
    first) and when; ``error`` says why it cannot be one."""

    index: int
    uid: str = ""
    names: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    error: str = ""


def _instant(value, zone: tzinfo) -> datetime:
    """A DTSTART/DTEND value as an aware datetime: floating times and whole days are read
    in the schedule's zone."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone)
    raise ValueError("not a date or time")


def _names(event) -> list[str]:
    names = []
    for key in ("attendee", "organizer"):
        values = event.get(key)
        for value in values if isinstance(values, list) else [values]:
            if value is not None:
                text = str(value).strip()
                names.append(text[7:] if text.lower().startswith("mailto:") else text)
    summary = str(event.get("summary", "")).strip()
    if summary:
        names.append(summary)
    return [name for name in names if name]


def _read(index: int, event, zone: tzinfo) -> ImportedEvent:
    item = ImportedEvent(index=index, uid=str(event.get("uid", ""))[:200])
    item.names = _names(event)
    start, end, duration = event.get("dtstart"), event.get("dtend"), event.get("duration")
    if start is None:
        item.error = "No DTSTART."
        return item
    item.start = _instant(start.dt, zone)
    if end is not None:
        item.end = _instant(end.dt, zone)
    elif duration is not None and isinstance(duration.dt, timedelta):
        item.end = item.start + duration.dt
    else:
        item.error = "No DTEND or DURATION."
        return item
    if not item.names:
        item.error = "Names nobody: give an ATTENDEE, ORGANIZER or SUMMARY."
    return item


def parse(data: bytes, zone: tzinfo) -> tuple[list[ImportedEvent], str]:
    """The file's events, and an error about the whole file ("" when it could be read)."""
    if len(data) > MAX_IMPORT_BYTES:
        return [], f"The file is larger than {MAX_IMPORT_BYTES // 1000} kB."
    try:
        calendar = icalendar.Calendar.from_ical(data)
        events = list(calendar.walk("VEVENT"))
    except Exception:  # the parser raises many kinds of error on garbage
        return [], "Not an iCalendar file."
    if len(events) > MAX_IMPORT_EVENTS:
        return [], f"At most {MAX_IMPORT_EVENTS} events."
    items = []
    for index, event in enumerate(events, start=1):
        try:
            items.append(_read(index, event, zone))
        except Exception:  # one unreadable event does not stop the others
            items.append(ImportedEvent(index=index, error="Unreadable start or end."))
    return items, ""
