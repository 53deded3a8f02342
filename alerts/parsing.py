"""What every alerting format is translated into before it is stored: :class:`Event`.

Each kind of integration (:mod:`alerts.kinds`) parses its requests into events or raises
:class:`InvalidEvent` with every problem found, with the helpers below; the ingestion
service does the rest the same way for all of them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from alerts.models import Alert
from core.text import strip_bidi_controls
from incidents.models import plausible_time

MAX_BODY_BYTES = 512 * 1024
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024
TITLE_MAX = 200


class InvalidEvent(Exception):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass
class Event:
    action: str  # an Alert.Action
    dedup_key: str
    summary: str
    payload: dict[str, Any]
    severity: str = "warning"
    source: str = ""
    fingerprint: str = ""
    title: str = ""  # of the incident it opens; the summary when empty
    description: str = ""  # Markdown, of the incident it opens
    tags: list[str] = field(default_factory=list)
    occurred_at: datetime | None = None
    note: str = ""  # for the timeline when it acknowledges or resolves an incident

    def __post_init__(self):
        if self.action not in Alert.Action.values:
            raise ValueError(self.action)
        self.summary = self.summary[:SUMMARY_MAX]
        self.title = (one_line(self.title) or one_line(self.summary))[:TITLE_MAX]


def one_line(text: str) -> str:
    return " ".join(strip_bidi_controls(text).split())


def parse_json(body: bytes) -> Any:
    """The body as JSON, refusing what PostgreSQL or a reader cannot take."""
    try:
        data = json.loads(
            body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidEvent([f"The body is not valid JSON: {str(exc)[:200]}"]) from None
    if _has_nul(data):
        raise InvalidEvent(["Strings may not contain NUL characters (\\u0000)."])
    if _has_lone_surrogate(data):
        raise InvalidEvent(["Strings may not contain unpaired surrogates (\\ud800-\\udfff)."])
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """1e999 parses as infinity, which no JSON column can store."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:50]} is out of range")
    return value


def _has_nul(value: Any) -> bool:
    return any("\x00" in item for item in _strings(value))


def _has_lone_surrogate(value: Any) -> bool:
    """An escaped half of a surrogate pair ("\\ud800") cannot be encoded as UTF-8."""
    for item in _strings(value):
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


def _strings(value: Any):
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_timestamp(value: Any, name: str, errors: list[str]) -> datetime | None:
    """An ISO 8601 time with its offset, or None (and an error) when it is not one."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            try:
                parsed.astimezone(UTC)  # what storing it does: at the edges of time it overflows
            except OverflowError:
                parsed = None
            else:
                if plausible_time(parsed):
                    return parsed
                errors.append(f"'{name}' must be a time between 1970 and now")
                return None
    errors.append(f"'{name}' must be an ISO 8601 time with a time zone")
    return None


def text(value: Any, name: str, errors: list[str], *, required=False, limit=None) -> str:
    if value is None or value == "":
        if required:
            errors.append(f"'{name}' is missing or blank")
        return ""
    if not isinstance(value, str):
        errors.append(f"'{name}' must be a string")
        return ""
    if required and not value.strip():
        errors.append(f"'{name}' is missing or blank")
    if limit is not None and len(value) > limit:
        errors.append(f"'{name}' is longer than {limit} characters")
    return value


def details_markdown(details: dict[str, Any]) -> str:
    """Key/value details as a Markdown list (values as inline code)."""
    lines = []
    for key, value in list(details.items())[:50]:
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        shown = one_line(shown)[:500].replace("`", "'")
        lines.append(f"- **{one_line(str(key))[:100]}**: `{shown}`")
    return "\n".join(lines)


def json_object(data: Any, name: str = "The body") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidEvent([f"{name} must be a JSON object"])
    return data


def links(value: Any, name: str, errors: list[str]) -> list[dict[str, str]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(
        isinstance(link, dict) and isinstance(link.get("href"), str) for link in value
    ):
        errors.append(f"'{name}' must be a list of objects with an 'href'")
        return []
    return value


def links_markdown(items: list[dict[str, str]]) -> str:
    lines = []
    for link in items[:20]:
        href = link["href"].strip()
        if href.startswith(("https://", "http://")):
            label = str(link.get("text") or href).replace("]", ")").replace("[", "(")[:200]
            lines.append(f"- [{label}]({href.replace(')', '%29')})")
    return "\n".join(lines)


def description(*parts: tuple[str, str]) -> str:
    """An incident description of titled Markdown sections; empty sections are left out."""
    return "\n\n".join(f"**{title}**\n\n{body}" for title, body in parts if body)
