"""PagerDuty Events API v2 through Django's test client: alert events and change events.

Each test asserts the answer PagerDuty's clients expect and the rows stored (Alert,
ChangeEvent, Incident, TimelineEntry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.cache import cache

from alerts.models import Alert, ChangeEvent, Integration
from incidents.models import Incident, TimelineEntry
from tenancy.models import Role

URLS = ("/v2/enqueue", "/integrations/pagerduty/v2/enqueue")
CHANGE_URLS = ("/v2/change/enqueue", "/integrations/pagerduty/v2/change/enqueue")


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()  # the rate limit counts requests in the cache
    yield
    cache.clear()


@pytest.fixture
def pagerduty(integration):
    return integration(Integration.Kind.PAGERDUTY)


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.unscoped().count()
        for model in (Alert, ChangeEvent, Incident, TimelineEntry)
    }


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def trigger(key, dedup_key="disk-full", **payload):
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {
            "summary": "Disk full on db-1",
            "source": "db-1",
            "severity": "critical",
            **payload,
        },
    }
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    return body


def action(key, event_action, dedup_key="disk-full"):
    return {"routing_key": key, "event_action": event_action, "dedup_key": dedup_key}


def timeline(incident) -> list[tuple[str, dict]]:
    return [
        (entry.kind, entry.data)
        for entry in TimelineEntry.objects.unscoped().filter(incident=incident)
    ]


@pytest.mark.parametrize("url", URLS)
def test_trigger_repeat_acknowledge_resolve(client, pagerduty, url):
    response = post(client, url, trigger(pagerduty.key))

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-full",
    }
    incident = Incident.objects.unscoped().get()
    assert incident.organization_id == pagerduty.organization_id
    assert (incident.number, incident.title, incident.status) == (1, "Disk full on db-1", "new")
    assert (incident.source, incident.dedup_key) == ("alert", "disk-full")
    assert incident.alert_group.integration_id == pagerduty.pk
    assert incident.service_id == pagerduty.service_id
    assert (incident.impact, incident.urgency, incident.severity, incident.priority) == (
        1,
        1,
        "sev1",
        1,
    )
    first = Alert.objects.unscoped().get()
    assert (first.action, first.outcome, first.incident_id) == ("trigger", "opened", incident.pk)
    assert (first.summary, first.severity, first.source) == (
        "Disk full on db-1",
        "critical",
        "db-1",
    )
    assert first.payload == trigger(pagerduty.key)
    assert timeline(incident) == [("created", {"priority": 1, "source": "alert"})]

    repeat = post(client, url, trigger(pagerduty.key))

    assert repeat.status_code == 202
    assert repeat.json()["dedup_key"] == "disk-full"
    assert Incident.objects.unscoped().count() == 1
    second = Alert.objects.unscoped().exclude(pk=first.pk).get()
    assert (second.outcome, second.incident_id) == ("grouped", incident.pk)
    assert len(timeline(incident)) == 1  # grouping adds nothing to the timeline

    ack = post(client, url, action(pagerduty.key, "acknowledge"))

    assert ack.status_code == 202
    assert ack.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-full",
    }
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert incident.acknowledged_at is not None
    ack_alert = Alert.objects.unscoped().get(action="acknowledge")
    assert (ack_alert.outcome, ack_alert.incident_id) == ("acknowledged", incident.pk)
    assert timeline(incident)[-1] == ("status_changed", {"from": "new", "to": "acknowledged"})

    ack_again = post(client, url, action(pagerduty.key, "acknowledge"))

    assert ack_again.status_code == 202
    assert Alert.objects.unscoped().filter(action="acknowledge").count() == 2
    assert Alert.objects.unscoped().filter(action="acknowledge").first().outcome == "recorded"
    assert len(timeline(incident)) == 2

    resolved = post(client, url, action(pagerduty.key, "resolve"))

    assert resolved.status_code == 202
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at is not None
    resolve_alert = Alert.objects.unscoped().get(action="resolve")
    assert (resolve_alert.outcome, resolve_alert.incident_id) == ("resolved", incident.pk)
    assert timeline(incident)[-1] == (
        "status_changed",
        {"from": "acknowledged", "to": "resolved"},
    )
    assert counts() == {"Alert": 5, "ChangeEvent": 0, "Incident": 1, "TimelineEntry": 3}


def test_a_trigger_after_the_resolve_opens_a_new_incident(client, pagerduty):
    post(client, URLS[0], trigger(pagerduty.key))
    post(client, URLS[0], action(pagerduty.key, "resolve"))

    response = post(client, URLS[1], trigger(pagerduty.key))

    assert response.status_code == 202
    first, second = Incident.objects.unscoped().order_by("number")
    assert (first.number, first.status) == (1, "resolved")
    assert (second.number, second.status, second.dedup_key) == (2, "new", "disk-full")
    assert Alert.objects.unscoped().filter(incident=second).get().outcome == "opened"


def test_a_trigger_without_a_dedup_key_gets_one_generated(client, pagerduty):
    response = post(client, URLS[0], trigger(pagerduty.key, dedup_key=None))

    assert response.status_code == 202
    dedup_key = response.json()["dedup_key"]
    assert len(dedup_key) == 32
    assert int(dedup_key, 16) >= 0
    incident = Incident.objects.unscoped().get()
    assert incident.dedup_key == dedup_key
    assert Alert.objects.unscoped().get().dedup_key == dedup_key

    # The generated key works for the follow-up events, as PagerDuty's does.
    resolved = post(client, URLS[0], action(pagerduty.key, "resolve", dedup_key))
    assert resolved.status_code == 202
    incident.refresh_from_db()
    assert incident.status == "resolved"

    # Another trigger without a key is another alert: a new key, a new incident.
    again = post(client, URLS[0], trigger(pagerduty.key, dedup_key=None))
    assert again.json()["dedup_key"] != dedup_key
    assert Incident.objects.unscoped().count() == 2


@pytest.mark.parametrize("event_action", ["acknowledge", "resolve"])
def test_ack_or_resolve_without_an_open_incident_is_stored_as_dropped(
    client, pagerduty, event_action
):
    # An incident for another key, and a resolved one for this key: neither is touched.
    post(client, URLS[0], trigger(pagerduty.key, dedup_key="other"))
    post(client, URLS[0], trigger(pagerduty.key))
    post(client, URLS[0], action(pagerduty.key, "resolve"))
    before = {i.pk: (i.status, i.updated_at) for i in Incident.objects.unscoped().all()}
    entries = TimelineEntry.objects.unscoped().count()

    response = post(client, URLS[1], action(pagerduty.key, event_action))

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-full",
    }
    alert = Alert.objects.unscoped().first()  # the newest
    assert (alert.action, alert.outcome, alert.incident_id) == (event_action, "dropped", None)
    assert alert.dedup_key == "disk-full"
    assert alert.organization_id == pagerduty.organization_id
    assert {i.pk: (i.status, i.updated_at) for i in Incident.objects.unscoped().all()} == before
    assert TimelineEntry.objects.unscoped().count() == entries


def test_payload_timestamp_becomes_when_the_incident_occurred(client, pagerduty):
    response = post(
        client, URLS[0], trigger(pagerduty.key, timestamp="2026-11-20T08:15:30.000+02:00")
    )

    assert response.status_code == 202
    incident = Incident.objects.unscoped().get()
    assert incident.occurred_at == datetime(2026, 11, 20, 6, 15, 30, tzinfo=UTC)
    assert incident.detected_at > incident.occurred_at


def test_custom_details_and_links_describe_the_incident(client, pagerduty):
    body = trigger(
        pagerduty.key,
        component="postgres",
        group="prod",
        custom_details={"free": "2%", "mounts": ["/", "/var"]},
    )
    body["links"] = [
        {"href": "https://grafana.example.com/d/disk", "text": "Disk dashboard"},
        {"href": "javascript:alert(1)", "text": "evil"},
    ]

    response = post(client, URLS[0], body)

    assert response.status_code == 202
    description = Incident.objects.unscoped().get().description
    assert "**Source**\n\ndb-1" in description
    assert "- **component**: `postgres`" in description
    assert "- **group**: `prod`" in description
    assert "- **free**: `2%`" in description
    assert '- **mounts**: `["/", "/var"]`' in description
    assert "- [Disk dashboard](https://grafana.example.com/d/disk)" in description
    assert "javascript:" not in description  # only http(s) links are kept


def test_script_in_custom_details_is_not_rendered_as_html(client, pagerduty, member, client_for):
    body = trigger(
        pagerduty.key,
        summary="<b>bold</b> summary",
        custom_details={"note": "<script>alert('x')</script>", "<img src=x onerror=alert(1)>": "v"},
    )
    body["links"] = [{"href": "https://example.com/", "text": "<script>bad()</script>"}]
    assert post(client, URLS[0], body).status_code == 202
    incident = Incident.objects.unscoped().get()
    assert "<script>" in incident.description  # stored as received, escaped when shown

    page = client_for(member(Role.RESPONDER)).get(f"/o/acme/incidents/{incident.number}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<script") == 1  # the page's own live.js, nothing from the alert
    assert '<script src="/static/beacon/live.js" defer></script>' in html
    assert "<img src=x" not in html
    assert "<b>bold</b>" not in html
    assert "<code>&lt;script&gt;alert('x')&lt;/script&gt;</code>" in html
    assert "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>" in html
    assert '<a href="https://example.com/" rel="nofollow noopener">&lt;script&gt;bad()' in html
    assert "&lt;b&gt;bold&lt;/b&gt; summary" in html  # the title, escaped


@pytest.mark.parametrize("url", CHANGE_URLS)
def test_change_event_is_recorded_on_the_service(client, pagerduty, url):
    body = {
        "routing_key": pagerduty.key,
        "payload": {
            "summary": "Deployed checkout v42",
            "source": "ci",
            "timestamp": "2026-11-27T10:00:00Z",
            "custom_details": {"build": 42},
        },
        "links": [{"href": "https://ci.example.com/42", "text": "Build"}],
    }

    response = post(client, url, body)

    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Change event processed"}
    change = ChangeEvent.objects.unscoped().get()
    assert change.organization_id == pagerduty.organization_id
    assert (change.integration_id, change.service_id) == (pagerduty.pk, pagerduty.service_id)
    assert (change.summary, change.source) == ("Deployed checkout v42", "ci")
    assert change.timestamp == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert change.custom_details == {"build": 42}
    assert change.links == [{"href": "https://ci.example.com/42", "text": "Build"}]
    assert change.payload == body
    assert counts() == {"Alert": 0, "ChangeEvent": 1, "Incident": 0, "TimelineEntry": 0}


def test_change_event_without_a_timestamp_is_dated_on_receipt(client, pagerduty):
    before = datetime.now(UTC)
    response = post(
        client, CHANGE_URLS[0], {"routing_key": pagerduty.key, "payload": {"summary": "Deploy"}}
    )

    assert response.status_code == 202
    change = ChangeEvent.objects.unscoped().get()
    assert before <= change.timestamp <= datetime.now(UTC)
    assert (change.custom_details, change.links, change.source) == ({}, [], "")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"payload": {"summary": "x"}}, "'routing_key' is missing or blank"),
        ({"routing_key": "KEY"}, "'payload' is missing or not an object"),
        ({"routing_key": "KEY", "payload": {}}, "'payload.summary' is missing or blank"),
        (
            {"routing_key": "KEY", "payload": {"summary": "x", "timestamp": "yesterday"}},
            "'payload.timestamp' must be an ISO 8601 time with a time zone",
        ),
        (
            {"routing_key": "KEY", "payload": {"summary": "x", "custom_details": [1]}},
            "'payload.custom_details' must be an object",
        ),
        (
            {"routing_key": "KEY", "payload": {"summary": "x"}, "links": [{"text": "no href"}]},
            "'links' must be a list of objects with an 'href'",
        ),
    ],
)
def test_invalid_change_event_is_refused(client, pagerduty, body, error):
    body = json.loads(json.dumps(body).replace("KEY", pagerduty.key))

    response = post(client, CHANGE_URLS[0], body)

    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert error in response.json()["errors"]
    assert counts() == {"Alert": 0, "ChangeEvent": 0, "Incident": 0, "TimelineEntry": 0}


def test_trigger_errors_are_listed_together(client, pagerduty):
    response = post(
        client,
        URLS[0],
        {
            "routing_key": pagerduty.key,
            "event_action": "trigger",
            "payload": {"summary": "", "severity": "bad"},
        },
    )

    assert response.status_code == 400
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [
            "'payload.summary' is missing or blank",
            "'payload.source' is missing or blank",
            "'payload.severity' must be one of critical, error, warning, info",
        ],
    }
    assert counts() == {"Alert": 0, "ChangeEvent": 0, "Incident": 0, "TimelineEntry": 0}


@pytest.mark.parametrize("event_action", ["acknowledge", "resolve"])
def test_ack_or_resolve_needs_a_dedup_key(client, pagerduty, event_action):
    response = post(client, URLS[0], {"routing_key": pagerduty.key, "event_action": event_action})

    assert response.status_code == 400
    assert response.json()["errors"] == ["'dedup_key' is missing or blank"]
    assert counts()["Alert"] == 0
