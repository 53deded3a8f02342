"""Prometheus Alertmanager (webhook payload version 4) and Grafana's alerting webhook
through Django's test client: a group is one incident, re-sent notifications store
nothing twice."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from django.core.cache import cache

from alerts.kinds.alertmanager import group_key
from alerts.models import Alert, ChangeEvent, Integration
from incidents.models import Incident, TimelineEntry
from incidents.services import TAGS_MAX

STARTS = "2026-11-28T09:00:00.000Z"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alertmanager(integration):
    return integration(Integration.Kind.ALERTMANAGER)


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.unscoped().count()
        for model in (Alert, ChangeEvent, Incident, TimelineEntry)
    }


def send(client, integration, body):
    return client.post(
        f"/integrations/alertmanager/{integration.key}/",
        data=json.dumps(body),
        content_type="application/json",
    )


def alert(instance, status="firing", starts_at=STARTS, **labels):
    return {
        "status": status,
        "labels": {
            "alertname": "HighLatency",
            "severity": "critical",
            "instance": instance,
            **labels,
        },
        "annotations": {
            "summary": f"Latency high on {instance}",
            "description": "p99 above 2s",
            "runbook_url": "https://runbooks.example.com/latency",
        },
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-28T09:30:00Z",
        "generatorURL": "https://prometheus.example.com/graph?g0.expr=latency",
        "fingerprint": f"fp-{instance}",
    }


def notification(*alerts, group_labels=None, group_key=None, receiver="team-api"):
    group_labels = {"alertname": "HighLatency"} if group_labels is None else group_labels
    statuses = {a["status"] for a in alerts}
    return {
        "version": "4",
        "groupKey": group_key or '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": "firing" if "firing" in statuses else "resolved",
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": {"alertname": "HighLatency", "severity": "critical"},
        "commonAnnotations": {"summary": "API latency is high"},
        "externalURL": "https://alertmanager.example.com",
        "alerts": list(alerts),
    }


def entries() -> int:
    return TimelineEntry.objects.unscoped().count()


def test_a_firing_group_of_two_alerts_opens_one_incident(client, alertmanager):
    response = send(client, alertmanager, notification(alert("api-1"), alert("api-2")))

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "2 stored, 0 already received",
        "incidents": ["INC-1"],
    }
    incident = Incident.objects.unscoped().get()
    assert incident.title == "API latency is high"  # commonAnnotations.summary
    assert incident.status == "new"
    assert incident.source == "alert"
    assert incident.dedup_key == group_key("team-api", {"alertname": "HighLatency"})
    # Every alert's labels, each once (not only the first alert's).
    assert incident.tags == [
        "alertname=HighLatency",
        "instance=api-1",
        "severity=critical",
        "instance=api-2",
    ]
    assert incident.occurred_at == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert (incident.impact, incident.urgency, incident.severity) == (1, 1, "sev1")
    assert "**Summary**\n\nLatency high on api-1" in incident.description
    assert "**Description**\n\np99 above 2s" in incident.description
    assert "- **instance**: `api-1`" in incident.description
    assert "- **runbook_url**: `https://runbooks.example.com/latency`" in incident.description
    assert "- [runbook_url](https://runbooks.example.com/latency)" in incident.description
    assert (
        "- [generatorURL](https://prometheus.example.com/graph?g0.expr=latency)"
        in incident.description
    )
    alerts = Alert.objects.unscoped().order_by("id")
    assert [(a.action, a.outcome, a.incident_id) for a in alerts] == [
        ("trigger", "opened", incident.pk),
        ("trigger", "grouped", incident.pk),
    ]
    assert [a.fingerprint for a in alerts] == [  # per group: its dedup key first
        f"{incident.dedup_key}:fp-api-1:{STARTS}:firing",
        f"{incident.dedup_key}:fp-api-2:{STARTS}:firing",
    ]
    assert [a.summary for a in alerts] == [
        "[FIRING] Latency high on api-1",
        "[FIRING] Latency high on api-2",
    ]
    assert alerts[0].payload["group"]["receiver"] == "team-api"
    assert alerts[0].payload["endsAt"] == "0001-01-01T00:00:00Z"  # accepted as is
    assert entries() == 1


def test_the_incident_gains_the_labels_of_alerts_that_join_the_group_later(client, alertmanager):
    send(client, alertmanager, notification(alert("api-1")))
    incident = Incident.objects.unscoped().get()
    assert incident.tags == ["alertname=HighLatency", "instance=api-1", "severity=critical"]
    created = incident.updated_at

    later = notification(alert("api-1"), alert("api-2", zone="eu-west-1"))
    assert send(client, alertmanager, later).status_code == 202
    assert send(client, alertmanager, later).status_code == 202  # re-sent: nothing new

    incident.refresh_from_db()
    assert incident.tags == [
        "alertname=HighLatency",
        "instance=api-1",
        "severity=critical",
        "instance=api-2",
        "zone=eu-west-1",
    ]
    assert incident.updated_at > created
    assert Incident.objects.unscoped().count() == 1


def test_the_labels_of_a_large_group_are_bounded(client, alertmanager):
    body = notification(*(alert(f"api-{n}") for n in range(40)))
    send(client, alertmanager, body)
    send(client, alertmanager, notification(*(alert(f"db-{n}") for n in range(40))))

    incident = Incident.objects.unscoped().get()
    assert len(incident.tags) == TAGS_MAX
    assert len(set(incident.tags)) == TAGS_MAX
    assert incident.tags[:4] == [
        "alertname=HighLatency",
        "instance=api-0",
        "severity=critical",
        "instance=api-1",
    ]


def test_the_same_notification_resent_stores_nothing(client, alertmanager):
    body = notification(alert("api-1"), alert("api-2"))
    send(client, alertmanager, body)
    before = counts()

    response = send(client, alertmanager, copy.deepcopy(body))

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "0 stored, 2 already received",
        "incidents": ["INC-1"],  # where the first copies are
    }
    assert counts() == before == {"Alert": 2, "ChangeEvent": 0, "Incident": 1, "TimelineEntry": 1}


def test_one_firing_one_resolved_keeps_the_incident_open_then_all_resolved_resolves_it(
    client, alertmanager
):
    send(client, alertmanager, notification(alert("api-1"), alert("api-2")))
    incident = Incident.objects.unscoped().get()

    mixed = send(
        client, alertmanager, notification(alert("api-1"), alert("api-2", status="resolved"))
    )

    assert mixed.status_code == 202
    assert mixed.json() == {
        "status": "success",
        "message": "1 stored, 1 already received",
        "incidents": ["INC-1"],
    }
    incident.refresh_from_db()
    assert incident.status == "new"
    recorded = Alert.objects.unscoped().get(fingerprint__endswith=f":fp-api-2:{STARTS}:resolved")
    assert (recorded.action, recorded.outcome, recorded.incident_id) == (
        "update",
        "recorded",
        incident.pk,
    )
    assert recorded.summary == "[RESOLVED] Latency high on api-2"
    assert entries() == 1

    resolved_body = notification(
        alert("api-1", status="resolved"), alert("api-2", status="resolved")
    )
    resolved = send(client, alertmanager, resolved_body)

    assert resolved.status_code == 202
    assert resolved.json()["message"] == "2 stored, 1 already received"
    assert resolved.json()["incidents"] == ["INC-1"]
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at is not None
    closing = Alert.objects.unscoped().get(action="resolve")
    assert (closing.outcome, closing.incident_id) == ("resolved", incident.pk)
    assert closing.summary == "[RESOLVED] API latency is high"
    assert entries() == 2
    last = TimelineEntry.objects.unscoped().last()
    assert (last.kind, last.data) == ("status_changed", {"from": "new", "to": "resolved"})
    before = counts()

    again = send(client, alertmanager, copy.deepcopy(resolved_body))

    assert again.status_code == 202
    assert again.json()["message"] == "0 stored, 3 already received"
    assert counts() == before
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_a_new_firing_after_the_resolution_opens_a_new_incident(client, alertmanager):
    send(client, alertmanager, notification(alert("api-1")))
    send(client, alertmanager, notification(alert("api-1", status="resolved")))
    assert Incident.objects.unscoped().get().status == "resolved"

    response = send(
        client, alertmanager, notification(alert("api-1", starts_at="2026-11-28T11:00:00Z"))
    )

    assert response.status_code == 202
    assert response.json()["incidents"] == ["INC-2"]
    first, second = Incident.objects.unscoped().order_by("number")
    assert (first.status, second.status) == ("resolved", "new")
    assert second.dedup_key == first.dedup_key
    assert second.occurred_at == datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    assert Alert.objects.unscoped().get(incident=second).outcome == "opened"


def test_resent_firing_with_the_old_start_after_resolution_opens_nothing(client, alertmanager):
    firing = notification(alert("api-1"))
    send(client, alertmanager, firing)
    send(client, alertmanager, notification(alert("api-1", status="resolved")))
    before = counts()

    response = send(client, alertmanager, copy.deepcopy(firing))  # a late retry

    assert response.json()["message"] == "0 stored, 1 already received"
    assert counts() == before


def test_edited_route_changes_group_key_but_not_the_incident(client, alertmanager):
    send(client, alertmanager, notification(alert("api-1")))

    response = send(
        client,
        alertmanager,
        notification(
            alert("api-2"), group_key='{}/{severity="critical"}:{alertname="HighLatency"}'
        ),
    )

    assert response.status_code == 202
    assert response.json()["incidents"] == ["INC-1"]
    assert Incident.objects.unscoped().count() == 1
    assert Alert.objects.unscoped().get(fingerprint__contains=":fp-api-2:").outcome == "grouped"


@pytest.mark.parametrize(
    ("group_labels", "receiver"),
    [
        ({"alertname": "HighLatency", "cluster": "eu"}, "team-api"),
        ({"alertname": "HighLatency"}, "team-db"),
    ],
)
def test_other_group_labels_or_receiver_open_another_incident(
    client, alertmanager, group_labels, receiver
):
    send(client, alertmanager, notification(alert("api-1")))

    response = send(
        client,
        alertmanager,
        notification(alert("api-3", cluster="eu"), group_labels=group_labels, receiver=receiver),
    )

    assert response.status_code == 202
    assert response.json()["incidents"] == ["INC-2"]
    first, second = Incident.objects.unscoped().order_by("number")
    assert first.dedup_key != second.dedup_key
    assert (first.status, second.status) == ("new", "new")


def test_title_falls_back_to_the_group_labels(client, alertmanager):
    body = notification(alert("api-1"), group_labels={"alertname": "HighLatency", "env": "prod"})
    body["commonAnnotations"] = {}

    send(client, alertmanager, body)

    assert Incident.objects.unscoped().get().title == "HighLatency (env=prod)"


def test_grafana_webhook_shape_is_accepted(client, alertmanager):
    body = {
        "receiver": "beacon",
        "status": "firing",
        "orgId": 1,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "CPU", "grafana_folder": "Infra", "severity": "warning"},
                "annotations": {"summary": "CPU above 90%"},
                "startsAt": "2026-11-28T09:00:00+01:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example.com/alerting/grafana/abc/view",
                "fingerprint": "57c6d9296de2ad39",
                "silenceURL": "https://grafana.example.com/alerting/silence/new?x=1",
                "dashboardURL": "https://grafana.example.com/d/cpu",
                "panelURL": "https://grafana.example.com/d/cpu?viewPanel=2",
                "values": {"B": 93.2, "C": 1},
                "valueString": "[ var='B' labels={} value=93.2 ]",
            }
        ],
        "groupLabels": {"alertname": "CPU", "grafana_folder": "Infra"},
        "commonLabels": {"alertname": "CPU", "grafana_folder": "Infra", "severity": "warning"},
        "commonAnnotations": {"summary": "CPU above 90%"},
        "externalURL": "https://grafana.example.com/",
        "version": "1",
        "groupKey": '{}/{}:{alertname="CPU", grafana_folder="Infra"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] CPU Infra",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=93.2",
    }

    response = send(client, alertmanager, body)

    assert response.status_code == 202
    assert response.json()["incidents"] == ["INC-1"]
    incident = Incident.objects.unscoped().get()
    assert incident.title == "CPU above 90%"
    assert (incident.impact, incident.urgency, incident.severity) == (2, 2, "sev3")  # warning
    assert incident.occurred_at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert "- [dashboardURL](https://grafana.example.com/d/cpu)" in incident.description
    assert "- [silenceURL](https://grafana.example.com/alerting/silence/new?x=1)" in (
        incident.description
    )
    stored = Alert.objects.unscoped().get()
    assert stored.payload["group"]["orgId"] == 1
    assert stored.payload["values"] == {"B": 93.2, "C": 1}
    assert stored.severity == "warning"

    resolved = copy.deepcopy(body)
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-11-28T09:10:00+01:00"
    resolved["state"] = "ok"

    assert send(client, alertmanager, resolved).status_code == 202
    incident.refresh_from_db()
    assert incident.status == "resolved"


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda b: b.update(alerts=[]), "'alerts' must be a non-empty list"),
        (lambda b: b.pop("alerts"), "'alerts' must be a non-empty list"),
        (
            lambda b: b["alerts"][0].update(status="pending"),
            "'alerts[0].status' must be firing or resolved",
        ),
        (
            lambda b: b["alerts"][0]["labels"].update(severity=3),
            "'alerts[0].labels' must be an object of strings",
        ),
        (
            lambda b: b.update(groupLabels=["alertname"]),
            "'groupLabels' must be an object of strings",
        ),
        (
            lambda b: b["alerts"][0].update(startsAt="2026-11-28 09:00"),
            "'alerts[0].startsAt' must be an ISO 8601 time with a time zone",
        ),
        (lambda b: b["alerts"].append("x"), "'alerts[1]' must be an object"),
        (lambda b: b.update(receiver=7), "'receiver' must be a string"),
    ],
)
def test_invalid_notification_is_refused_whole(client, alertmanager, mutate, error):
    body = notification(alert("api-1"))
    mutate(body)

    response = send(client, alertmanager, body)

    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert response.json()["message"] == "Event object is invalid"
    assert error in response.json()["errors"]
    assert counts() == {"Alert": 0, "ChangeEvent": 0, "Incident": 0, "TimelineEntry": 0}


def test_the_url_without_a_trailing_slash_works_too(client, alertmanager):
    response = client.post(
        f"/integrations/alertmanager/{alertmanager.key}",
        data=json.dumps(notification(alert("api-1"))),
        content_type="application/json",
    )

    assert response.status_code == 202
    assert Incident.objects.unscoped().count() == 1


def test_regrouped_alerts_belong_to_their_new_group(client, alertmanager):
    """An edit of group_by sends the still-firing alerts again under other group labels:
    they are the new group's alerts (its own incident), and its resolution resolves it."""
    send(client, alertmanager, notification(alert("api-1")))
    regrouped = {"alertname": "HighLatency", "instance": "api-1"}
    response = send(client, alertmanager, notification(alert("api-1"), group_labels=regrouped))
    assert response.json()["message"] == "1 stored, 0 already received"
    assert response.json()["incidents"] == ["INC-2"]
    resolved = notification(alert("api-1", status="resolved"), group_labels=regrouped)
    assert send(client, alertmanager, resolved).json()["incidents"] == ["INC-2"]
    statuses = dict(Incident.objects.unscoped().values_list("number", "status"))
    assert statuses == {1: "new", 2: "resolved"}
