"""Prometheus Alertmanager's webhook (payload version 4) and Grafana's alerting webhook
(the same shape plus ``orgId``, ``values``, ``silenceURL``…): ``POST
/integrations/alertmanager/<key>/``, one incident per alert group."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import transaction
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from alerts import receiving
from alerts.kinds.base import Example, IntegrationKind, Setup, absolute_url, curl
from alerts.models import Alert, Integration
from alerts.parsing import (
    SUMMARY_MAX,
    Event,
    InvalidEvent,
    description,
    details_markdown,
    json_object,
    links_markdown,
    parse_timestamp,
    text,
)
from alerts.severities import normalize_severity


def _labels(value: Any, name: str, errors: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        errors.append(f"'{name}' must be an object of strings")
        return {}
    return value


def group_key(receiver: str, group_labels: dict[str, str]) -> str:
    """The group's dedup key: its receiver and group labels. Not ``groupKey``, which embeds
    the route's configuration and changes when the routing tree is edited."""
    canonical = json.dumps([receiver, sorted(group_labels.items())], separators=(",", ":"))
    return "am-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def parse_events(data: Any) -> list[Event]:
    """One event per alert of a notification; the group is one incident.

    A firing alert triggers (opens the group's incident or joins it); a resolved alert is
    recorded on it, and when every alert of the notification is resolved one more event
    resolves the incident. An alert is identified by its fingerprint, start and status, so
    a re-sent notification stores nothing twice."""
    data = json_object(data)
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
    dedup_key = group_key(receiver, group_labels)
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
                description=description(
                    ("Summary", annotations.get("summary", "")),
                    ("Description", annotations.get("description", "")),
                    ("Labels", details_markdown(labels)),
                    ("Annotations", details_markdown(annotations)),
                    (
                        "Links",
                        links_markdown(
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


@csrf_exempt
@transaction.non_atomic_requests
def receive(request, key: str):
    def handle(data):
        integration = receiving.integration_for(key, Integration.Kind.ALERTMANAGER)
        events = parse_events(data)
        return receiving.store_and_apply(request, integration, events, receiving.WEBHOOK)

    return receiving.receive(request, receiving.WEBHOOK, handle)


urlpatterns = [
    path("integrations/alertmanager/<str:key>/", receive, name="alertmanager"),
    path("integrations/alertmanager/<str:key>", receive),
]


def example_bodies(integration: Integration) -> dict[str, dict]:
    labels = {"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical"}
    return {
        "alertmanager": {
            "version": "4",
            "groupKey": '{}:{alertname="DiskFull"}',
            "status": "firing",
            "receiver": "beacon",
            "groupLabels": {"alertname": "DiskFull"},
            "commonLabels": labels,
            "commonAnnotations": {"summary": "Disk 95% full on db-1"},
            "externalURL": "http://alertmanager.example.com:9093",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": "Disk 95% full on db-1"},
                    "startsAt": "2024-06-01T12:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "a1b2c3d4e5f60718",
                }
            ],
        }
    }


def setup(request, integration: Integration) -> Setup:
    url = absolute_url(request, "alertmanager", key=integration.key)
    receiver = "\n".join(
        [
            "route:",
            "  receiver: beacon",
            "receivers:",
            "  - name: beacon",
            "    webhook_configs:",
            f"      - url: {json.dumps(url)}",
            "        send_resolved: true",
        ]
    )
    return Setup(
        urls=[("Webhook", url)],
        examples=[
            Example("alertmanager.yml", receiver),
            Example(
                "Send a test notification", curl(url, example_bodies(integration)["alertmanager"])
            ),
        ],
    )


KIND = IntegrationKind(
    kind=Integration.Kind.ALERTMANAGER,
    route="alertmanager",
    key_in_url=True,
    key_travels="(the key is part of the URL)",
    urlpatterns=urlpatterns,
    example_bodies=example_bodies,
    setup=setup,
)
