"""Keyset pagination on (created_at, id), newest first: no COUNT(*), no OFFSET. The queue,
"my incidents" and the reviews list page this way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Q

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor(row) -> str:
    """The cursor of ``row`` (a model instance with ``created_at`` and an id)."""
    delta = row.created_at - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}-{row.pk}"


def parse_cursor(value: str) -> tuple[datetime, int] | None:
    """(created_at, id) from a cursor, or None when it is not one."""
    match = re.fullmatch(r"([0-9]{1,17})-([0-9]{1,18})", value or "")
    if match is None:
        return None
    try:
        return EPOCH + timedelta(microseconds=int(match[1])), int(match[2])
    except OverflowError:
        return None


def page(rows, before: str) -> tuple[list, str | None]:
    """A page of ``rows`` (a queryset) older than the cursor ``before``, and the cursor of
    the next older page (None on the last one)."""
    after = parse_cursor(before)
    if after is not None:
        created_at, pk = after
        rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk))
    found = list(rows.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    older = cursor(found[PAGE_SIZE - 1]) if len(found) > PAGE_SIZE else None
    return found[:PAGE_SIZE], older


def query_string(items) -> str:
    """``?a=1&b=2`` from query-string pairs (``?`` alone when there are none)."""
    return "?" + urlencode(items) if items else "?"
