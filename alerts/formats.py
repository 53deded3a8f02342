"""The request formats Beacon accepts, each parsed into :class:`~alerts.events.Event` s.

- PagerDuty Events API v2 (``/v2/enqueue``) and its change events (``/v2/change/enqueue``).
- Prometheus Alertmanager webhook, payload version 4, and Grafana's alerting webhook (the
  same shape plus ``orgId``, ``values``, ``silenceURL``…).
- Opsgenie Alert API: create, acknowledge and close by alias.
- The generic webhook: one event in Beacon's own documented shape.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from alerts.events import (
    DEDUP_KEY_MAX,
    SEVERITIES,
    SUMMARY_MAX,
    Event,
    InvalidEvent,
    details_markdown,
    normalize_severity,
    parse_timestamp,
    text,
)
from alerts.models import Alert

PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")


def _object(data: Any, name: str = "The body") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidEvent([f"{name} must be a JSON object"])
    return data


def _links(value: Any, name: str, errors: list[str]) -> list[dict[str, str]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(
        isinstance(link, dict) and isinstance(link.get("href"), str) for link in value
    ):
        errors.append(f"'{name}' must be a list of objects with an 'href'")
        return []
    return value


def _links_markdown(links: list[dict[str, str]]) -> str:
    lines = []
    for link in links[:20]:
        href = link["href"].strip()
        if href.startswith(("https://", "http://")):
            label = str(link.get("text") or href).replace("]", ")").replace("[", "(")[:200]
            lines.append(f"- [{label}]({href.replace(')', '%29')})")
    return "\n".join(lines)


def _description(*parts: tuple[str, str]) -> str:
    return "\n\n".join(f"**{title}**\n\n{body}" for title, body in parts if body)


# --- PagerDuty Events API v2 -----------------------------------------------------------


def pagerduty_event(data: Any) -> tuple[str, Event]:
    """(routing key, event) from an Events API v2 body; errors as PagerDuty words them."""
    data = _object(data)
    errors: list[str] = []
    routing_key = text(data.get("routing_key"), "routing_key", errors, required=True)
    action = data.get("event_action")
    if action not in PAGERDUTY_ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup_key = text(data.get("dedup_key"), "dedup_key", errors, limit=DEDUP_KEY_MAX)
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    payload = data.get("payload")
    summary = source = ""
    severity = "warning"
    occurred_at = None
    description = ""
    if action == "trigger" or payload is not None:
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
            payload = {}
        summary = text(payload.get("summary"), "payload.summary", errors, required=True)
        source = text(payload.get("source"), "payload.source", errors, required=True)
        severity = payload.get("severity")
        if severity not in SEVERITIES:
            errors.append("'payload.severity' must be one of critical, error, warning, info")
            severity = "warning"
        occurred_at = parse_timestamp(payload.get("timestamp"), "payload.timestamp", errors)
        for name in ("component", "group", "class"):
            text(payload.get(name), f"payload.{name}", errors)
        details = payload.get("custom_details")
        if details is not None and not isinstance(details, dict | str):
            errors.append("'payload.custom_details' must be an object")
        description = _description(
            ("Source", source),
            (
                "Context",
                details_markdown(
                    {
                        name: payload[name]
                        for name in ("component", "group", "class")
                        if payload.get(name)
                    }
                ),
            ),
            (
                "Details",
                details_markdown(details) if isinstance(details, dict) else str(details or ""),
            ),
            ("Links", _links_markdown(_links(data.get("links"), "links", errors))),
        )
    _links(data.get("images"), "images", errors)
    if errors:
        raise InvalidEvent(errors)
    return routing_key, Event(
        action=action,
        dedup_key=dedup_key or uuid.uuid4().hex,
        summary=summary or f"{action} {dedup_key}",
        note=summary,
        severity=severity,
        source=source,
        description=description,
        occurred_at=occurred_at,
        payload=data,
    )


def pagerduty_change(data: Any) -> tuple[str, dict[str, Any]]:
    """(routing key, fields of a ChangeEvent) from a change event body."""
    data = _object(data)
    errors: list[str] = []
    routing_key = text(data.get("routing_key"), "routing_key", errors, required=True)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise InvalidEvent([*errors, "'payload' is missing or not an object"])
    summary = text(payload.get("summary"), "payload.summary", errors, required=True, limit=1024)
    source = text(payload.get("source"), "payload.source", errors)
    timestamp = parse_timestamp(payload.get("timestamp"), "payload.timestamp", errors)
    details = payload.get("custom_details") or {}
    if not isinstance(details, dict):
        errors.append("'payload.custom_details' must be an object")
    links = _links(data.get("links"), "links", errors)
    if errors:
        raise InvalidEvent(errors)
    return routing_key, {
        "summary": summary,
        "source": source,
        "timestamp": timestamp,
        "details": details,
        "links": links,
        "payload": data,
    }


# --- Prometheus Alertmanager and Grafana --------------------------------------------------


def _labels(value: Any, name: str, errors: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        errors.append(f"'{name}' must be an object of strings")
        return {}
    return value


def alertmanager_group_key(receiver: str, group_labels: dict[str, str]) -> str:
    """The group's dedup key: its receiver and group labels. Not ``groupKey``, which embeds
    the route's configuration and changes when the routing tree is edited."""
    canonical = json.dumps([receiver, sorted(group_labels.items())], separators=(",", ":"))
    return "am-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def alertmanager_events(data: Any) -> list[Event]:
    """One event per alert of a notification; the group is one incident.

    A firing alert triggers (opens the group's incident or joins it); a resolved alert is
    recorded on it, and when every alert of the notification is resolved one more event
    resolves the incident. An alert is identified by its fingerprint, start and status, so
    a re-sent notification stores nothing twice."""
    data = _object(data)
    errors: list[str] = []
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise InvalidEvent(["'alerts' must be a non-empty list"])
    receiver = text(data.get("receiver"), "receiver", errors)
    group_labels = _labels(data.get("groupLabels"), "groupLabels", errors)
    common_labels = _labels(data.get("commonLabels"), "commonLabels", errors)
    common_annotations = _labels(data.get("commonAnnotations"), "commonAnnotations", errors)
    group = {
        key: data[key]
        for key in ("receiver", "status", "groupLabels", "commonLabels", "externalURL", "orgId")
        if key in data
    }
    parsed = []
    for index, alert in enumerate(alerts):
        name = f"alerts[{index}]"
        if not isinstance(alert, dict):
            errors.append(f"'{name}' must be an object")
            continue
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            errors.append(f"'{name}.status' must be firing or resolved")
        labels = _labels(alert.get("labels"), f"{name}.labels", errors)
        annotations = _labels(alert.get("annotations"), f"{name}.annotations", errors)
        starts_at = parse_timestamp(alert.get("startsAt"), f"{name}.startsAt", errors)
        fingerprint = text(alert.get("fingerprint"), f"{name}.fingerprint", errors, limit=128)
        text(alert.get("generatorURL"), f"{name}.generatorURL", errors)
        parsed.append((alert, status, labels, annotations, starts_at, fingerprint))
    if errors:
        raise InvalidEvent(errors)
    dedup_key = alertmanager_group_key(receiver, group_labels)
    title = common_annotations.get("summary") or _group_title(group_labels, common_labels)
    all_resolved = all(status == "resolved" for _, status, *_ in parsed)
    events = []
    for alert, status, labels, annotations, starts_at, fingerprint in parsed:
        identity = (
            fingerprint
            or hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]
        )
        action = Alert.Action.TRIGGER if status == "firing" else Alert.Action.UPDATE
        summary = annotations.get("summary") or labels.get("alertname") or title
        events.append(
            Event(
                action=action,
                dedup_key=dedup_key,
                # Per group: the same alert under other group labels is another alert.
                fingerprint=f"{dedup_key}:{identity}:{alert.get('startsAt', '')}:{status}"[:255],
                summary=f"[{status.upper()}] {summary}"[:SUMMARY_MAX],
                severity=normalize_severity(labels.get("severity")),
                source=labels.get("instance") or labels.get("job") or receiver,
                title=title,
                description=_description(
                    ("Summary", annotations.get("summary", "")),
                    ("Description", annotations.get("description", "")),
                    ("Labels", details_markdown(labels)),
                    ("Annotations", details_markdown(annotations)),
                    (
                        "Links",
                        _links_markdown(
                            [
                                {"href": alert[key], "text": key}
                                for key in ("generatorURL", "silenceURL", "dashboardURL")
                                if isinstance(alert.get(key), str)
                            ]
                            + [
                                {"href": annotations[key], "text": key}
                                for key in ("runbook_url", "dashboard")
                                if key in annotations
                            ]
                        ),
                    ),
                ),
                tags=[f"{key}={value}"[:100] for key, value in sorted(labels.items())][:30],
                occurred_at=starts_at,
                payload={**alert, "group": group},
            )
        )
    if all_resolved:  # the whole group is over: resolve its incident, once
        resolved = sorted(event.fingerprint for event in events)
        events.append(
            Event(
                action=Alert.Action.RESOLVE,
                dedup_key=dedup_key,
                fingerprint="group:"
                + hashlib.sha256("\n".join(resolved).encode()).hexdigest()[:40],
                summary=f"[RESOLVED] {title}",
                severity=events[-1].severity,
                source=receiver,
                payload={"group": group, "alerts": len(events)},
            )
        )
    return events


def _group_title(group_labels: dict[str, str], common_labels: dict[str, str]) -> str:
    name = group_labels.get("alertname") or common_labels.get("alertname") or "Alert"
    rest = ", ".join(f"{k}={v}" for k, v in sorted(group_labels.items()) if k != "alertname")
    return f"{name} ({rest})" if rest else name


# --- Opsgenie Alert API ---------------------------------------------------------------------

OPSGENIE_PRIORITIES = {
    "P1": "critical",
    "P2": "error",
    "P3": "warning",
    "P4": "info",
    "P5": "info",
}


def opsgenie_create(data: Any) -> Event:
    data = _object(data)
    errors: list[str] = []
    message = text(data.get("message"), "message", errors, required=True, limit=130)
    alias = text(data.get("alias"), "alias", errors, limit=DEDUP_KEY_MAX)
    description = text(data.get("description"), "description", errors, limit=15_000)
    priority = data.get("priority", "P3")
    if not isinstance(priority, str) or priority not in OPSGENIE_PRIORITIES:
        errors.append("'priority' must be one of P1, P2, P3, P4, P5")
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        errors.append("'tags' must be a list of strings")
        tags = []
    details = data.get("details") or {}
    if not isinstance(details, dict):
        errors.append("'details' must be an object")
        details = {}
    source = text(data.get("source"), "source", errors, limit=100)
    entity = text(data.get("entity"), "entity", errors, limit=512)
    if errors:
        raise InvalidEvent(errors)
    return Event(
        action=Alert.Action.TRIGGER,
        dedup_key=alias or hashlib.sha256(message.encode()).hexdigest()[:40],
        summary=message,
        severity=OPSGENIE_PRIORITIES.get(priority, "warning"),
        source=source or entity,
        description=_description(
            ("Description", description), ("Entity", entity), ("Details", details_markdown(details))
        ),
        tags=[tag[:100] for tag in tags][:30],
        payload=data,
    )


def opsgenie_action(action: str, alias: str, data: Any) -> Event:
    """Acknowledge or close by alias; the body (note, user, source) may be empty."""
    data = {} if data in (None, b"") else _object(data)
    errors: list[str] = []
    note = text(data.get("note"), "note", errors, limit=25_000)
    user = text(data.get("user"), "user", errors, limit=100)
    source = text(data.get("source"), "source", errors, limit=100)
    if not alias or len(alias) > DEDUP_KEY_MAX:
        errors.append(f"The alias must be 1 to {DEDUP_KEY_MAX} characters")
    if errors:
        raise InvalidEvent(errors)
    return Event(
        action=action,
        dedup_key=alias,
        summary=note or f"{action} by {user or source or 'Opsgenie API'}",
        note=note,
        source=source or user,
        payload={"alias": alias, **data},
    )


# --- The generic webhook --------------------------------------------------------------------


GENERIC_ACTIONS = ("trigger", "acknowledge", "resolve")


def generic_event(data: Any) -> Event:
    """``{"action", "dedup_key", "summary", "severity", "source", "details", "links",
    "timestamp"}``: see the README's "Generic webhook"."""
    data = _object(data)
    errors: list[str] = []
    action = data.get("action", "trigger")
    if action not in GENERIC_ACTIONS:
        errors.append("'action' must be one of trigger, acknowledge, resolve")
    dedup_key = text(data.get("dedup_key"), "dedup_key", errors, limit=DEDUP_KEY_MAX)
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    summary = text(
        data.get("summary"), "summary", errors, required=action == "trigger", limit=SUMMARY_MAX
    )
    severity = data.get("severity", "warning")
    if severity not in SEVERITIES:
        errors.append("'severity' must be one of critical, error, warning, info")
    source = text(data.get("source"), "source", errors, limit=255)
    details = data.get("details") or {}
    if not isinstance(details, dict):
        errors.append("'details' must be an object")
        details = {}
    links = _links(data.get("links"), "links", errors)
    occurred_at = parse_timestamp(data.get("timestamp"), "timestamp", errors)
    if errors:
        raise InvalidEvent(errors)
    return Event(
        action=action,
        dedup_key=dedup_key or uuid.uuid4().hex,
        summary=summary or f"{action} {dedup_key}",
        note=summary,
        severity=severity,
        source=source,
        description=_description(
            ("Source", source),
            ("Details", details_markdown(details)),
            ("Links", _links_markdown(links)),
        ),
        occurred_at=occurred_at,
        payload=data,
    )
