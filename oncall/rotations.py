"""Who is on call when: the arithmetic of a schedule's layers, restrictions and overrides.

Everything here is pure computation over a schedule whose layers (with their participants
and users) and overrides are already loaded; :func:`with_rotations` is the one helper that
queries, adding those prefetches to a queryset of schedules. Nothing else here touches
the database, so an escalation, a calendar and a report can all ask about many moments of
many schedules for the price of loading them once.

The rules, all in the schedule's time zone:

- A layer's shift ``k`` starts at ``rotation_start`` + ``handoff_time`` + ``k`` times the length,
  and is covered by ``participants[k mod n]``; before the first shift the layer has nobody.
- ``days`` and ``weeks`` are calendar days: the handoff stays at the local time, so a daily
  shift across a DST change lasts 23 or 25 real hours. ``hours`` are real elapsed hours.
- A local time that does not exist (inside a spring-forward gap) means the first instant
  after the gap, the moment the clocks jump; an ambiguous one (repeated in a fall-back)
  means its first occurrence. This holds for handoffs and restriction windows alike.
- Restrictions limit when a layer has someone (see :mod:`oncall.restrictions`): a window
  belongs to the day it starts on, and one whose end is not after its start ends the next
  day ("22:00" to "06:00"; "00:00" to "00:00" is the whole day). No restrictions: always.
- Where several layers have someone, the highest ``position`` wins; an override covering
  the moment wins over every layer, and overlapping overrides name all their users, in the
  order the overrides start. Nobody anywhere: no users.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.db.models import Prefetch

from oncall.models import Layer, Override, Participant
from oncall.restrictions import DAYS, parse_time

HORIZON = timedelta(days=90)
"""How far ahead :func:`oncall_at` looks for the end of the current answer."""


@dataclass(frozen=True)
class OnCall:
    """Who is on call at a moment, and until when that answer holds (None: beyond the
    look-ahead horizon)."""

    users: list
    until: datetime | None


@dataclass(frozen=True)
class Segment:
    """A stretch of time with the same people on call (none: nobody)."""

    start: datetime
    end: datetime
    users: list = field(default_factory=list)

    @property
    def user_ids(self) -> tuple[int, ...]:
        return tuple(user.pk for user in self.users)


def with_rotations(queryset, *, overrides_since: datetime | None = None):
    """``queryset`` of schedules with what the functions here read, in three prefetches:
    layers, their participants (with users) and overrides (with users). With
    ``overrides_since``, overrides that ended before it are left out."""
    overrides = Override.objects.select_related("user").order_by("start", "id")
    if overrides_since is not None:
        overrides = overrides.filter(end__gt=overrides_since)
    participants = Participant.objects.select_related("user").order_by("position")
    layers = Layer.objects.order_by("position", "id").prefetch_related(
        Prefetch("participants", queryset=participants)
    )
    return queryset.prefetch_related(
        Prefetch("layers", queryset=layers), Prefetch("overrides", queryset=overrides)
    )


def zone_of(schedule) -> tzinfo:
    zone = schedule.time_zone
    return zone if isinstance(zone, tzinfo) else ZoneInfo(str(zone))


def localize(day: date, at: time, zone: tzinfo) -> datetime:
    """The instant (UTC) of a local wall time: the first occurrence of an ambiguous one,
    the end of the gap for one that does not exist."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # Inside a gap: fold=1 reads it with the offset after the jump, fold=0 with the one
    # before; the jump itself lies between the two. Search it to the second.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(low, first), max(low, first)
    after = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high


def _shift_start(layer, zone: tzinfo, k: int) -> datetime:
    if layer.shift_unit == Layer.Unit.HOURS:
        origin = localize(layer.rotation_start, layer.handoff_time, zone)
        return origin + timedelta(hours=k * layer.shift_length)
    days = layer.shift_length * (7 if layer.shift_unit == Layer.Unit.WEEKS else 1)
    return localize(layer.rotation_start + timedelta(days=k * days), layer.handoff_time, zone)


def _first_shift(layer, zone: tzinfo, at: datetime) -> int:
    """The index of the shift running at ``at`` (0 if ``at`` is before the first one)."""
    if layer.shift_unit == Layer.Unit.HOURS:
        origin = localize(layer.rotation_start, layer.handoff_time, zone)
        k = (at - origin) // timedelta(hours=layer.shift_length)
    else:
        days = layer.shift_length * (7 if layer.shift_unit == Layer.Unit.WEEKS else 1)
        k = (at.astimezone(zone).date() - layer.rotation_start).days // days
    k = max(k, 0)
    while k > 0 and _shift_start(layer, zone, k) > at:
        k -= 1
    while _shift_start(layer, zone, k + 1) <= at:
        k += 1
    return k


def _shifts(
    layer, zone, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, int]]:
    k = _first_shift(layer, zone, start)
    shift_start = _shift_start(layer, zone, k)
    while shift_start < end:
        shift_end = _shift_start(layer, zone, k + 1)
        if shift_end > start:
            yield max(shift_start, start), min(shift_end, end), k
        k, shift_start = k + 1, shift_end


def _windows(restrictions, zone, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The restriction windows touching [start, end), clipped to it, merged and sorted."""
    spans = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    parsed = [
        (
            {DAYS.index(name) for name in window.get("days", DAYS)},
            parse_time(window["start"]),
            parse_time(window["end"]),
        )
        for window in restrictions
    ]
    while day <= last:
        for weekdays, opens, closes in parsed:
            if day.weekday() not in weekdays:
                continue
            close_day = day + timedelta(days=1) if closes <= opens else day
            window_start = max(localize(day, opens, zone), start)
            window_end = min(localize(close_day, closes, zone), end)
            if window_start < window_end:
                spans.append((window_start, window_end))
        day += timedelta(days=1)
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for span_start, span_end in spans:
        if merged and span_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], span_end))
        else:
            merged.append((span_start, span_end))
    return merged


def _merge(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].end == segment.start and merged[-1].user_ids == segment.user_ids:
            merged[-1] = Segment(merged[-1].start, segment.end, merged[-1].users)
        else:
            merged.append(segment)
    return merged


def layer_segments(layer, start: datetime, end: datetime, *, zone: tzinfo | None = None):
    """Where the layer has someone in [start, end): one segment per person and stretch,
    adjacent stretches of the same person merged. Gaps (restrictions, before the rotation
    starts, no participants) have no segment."""
    zone = zone or zone_of(layer.schedule)
    participants = [participant.user for participant in layer.participants.all()]
    if not participants or start >= end:
        return []
    segments = []
    if layer.restrictions:
        windows = _windows(layer.restrictions, zone, start, end)
        for shift_start, shift_end, k in _shifts(layer, zone, start, end):
            user = participants[k % len(participants)]
            first = bisect.bisect_right(windows, (shift_start,)) - 1
            for window_start, window_end in windows[max(first, 0) :]:
                if window_start >= shift_end:
                    break
                low, high = max(window_start, shift_start), min(window_end, shift_end)
                if low < high:
                    segments.append(Segment(low, high, [user]))
    else:
        for shift_start, shift_end, k in _shifts(layer, zone, start, end):
            segments.append(Segment(shift_start, shift_end, [participants[k % len(participants)]]))
    return _merge(segments)


def final_segments(schedule, start: datetime, end: datetime) -> list[Segment]:
    """The resolved schedule over [start, end): consecutive segments covering the whole
    range, each with whoever is on call (empty: nobody), adjacent equal ones merged."""
    if start >= end:
        return []
    zone = zone_of(schedule)
    layers = sorted(schedule.layers.all(), key=lambda layer: layer.position, reverse=True)
    by_layer = [layer_segments(layer, start, end, zone=zone) for layer in layers]
    overrides = [o for o in schedule.overrides.all() if o.start < end and o.end > start]
    overrides.sort(key=lambda o: (o.start, o.pk or 0))
    cuts = {start, end}
    for segments in by_layer:
        for segment in segments:
            cuts.update((segment.start, segment.end))
    for override in overrides:
        cuts.update((max(override.start, start), min(override.end, end)))
    points = sorted(cuts)
    starts = [[segment.start for segment in segments] for segments in by_layer]
    pieces = []
    for piece_start, piece_end in itertools.pairwise(points):
        users = []
        for override in overrides:
            if override.start <= piece_start < override.end and override.user not in users:
                users.append(override.user)
        if not users:
            for segments, firsts in zip(by_layer, starts, strict=True):
                index = bisect.bisect_right(firsts, piece_start) - 1
                if index >= 0 and segments[index].end > piece_start:
                    users = list(segments[index].users)
                    break
        pieces.append(Segment(piece_start, piece_end, users))
    return _merge(pieces)


def oncall_at(schedule, at: datetime) -> OnCall:
    """Who is on call at ``at`` and until when that holds (None: beyond :data:`HORIZON`).

    It looks a day ahead first, then further only while the answer has not changed yet:
    most answers change within days, and the cost grows with the span computed."""
    horizon = at + HORIZON
    span = timedelta(days=1)
    while True:
        end = min(at + span, horizon)
        first = final_segments(schedule, at, end)[0]
        if first.end < end:
            return OnCall(users=first.users, until=first.end)
        if end == horizon:
            return OnCall(users=first.users, until=None)
        span *= 4
