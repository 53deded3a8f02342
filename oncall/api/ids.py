"""Ids in on-call URLs: any path segment routes, and what cannot be an id is "not found"
exactly like an id that does not exist (so a foreign or absurd value tells nothing)."""

from __future__ import annotations

from django.http import Http404

ID = r"[^/.]+"
ID_MAX_DIGITS = 18


def object_id(value) -> int:
    value = str(value)
    if not value.isascii() or not value.isdigit() or len(value) > ID_MAX_DIGITS:
        raise Http404("Not found.")
    return int(value)
