"""The Opsgenie Alert API (create, acknowledge and close by alias, GenieKey auth) and the
generic JSON webhook, through Django's test client."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from django.core.cache import cache

from alerts.models import Alert, ChangeEvent, Integration
from incidents.models import Incident, TimelineEntry

EMPTY = {"Alert": 0, "ChangeEvent": 0, "Incident": 0, "TimelineEntry": 0}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def opsgenie(integration):
    return integration(Integration.Kind.OPSGENIE)


@pytest.fixture
def generic(integration):
    return integration(Integration.Kind.GENERIC)


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.unscoped().count()
        for model in (Alert, ChangeEvent, Incident, TimelineEntry)
    }


# --- Opsgenie --------------------------------------------------------------------------------


def genie(client, path, body, key, *, raw=None):
    headers = {} if key is None else {"HTTP_AUTHORIZATION": f"GenieKey {key}"}
    data = raw if raw is not None else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **headers)


def assert_opsgenie_accepted(response):
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"result", "took", "requestId"}
    assert body["result"] == "Request will be processed"
    assert isinstance(body["took"], float)
    assert body["took"] >= 0
    uuid.UUID(body["requestId"])


def assert_opsgenie_refused(response, status, error=None):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"message", "errors", "took", "requestId"}
    assert isinstance(body["message"], str)
    assert body["message"]
    uuid.UUID(body["requestId"])
    if error is not None:
        assert error in body["errors"]


def test_opsgenie_create_acknowledge_close_by_alias(client, opsgenie):
    created = genie(
        client,
        "/v2/alerts",
        {
            "message": "Replica lag above 5 minutes",
            "alias": "db-lag",
            "description": "replica-2 is behind",
            "priority": "P2",
            "tags": ["db", "prod"],
            "details": {"lag": "312s"},
            "entity": "replica-2",
            "source": "zabbix",
        },
        opsgenie.key,
    )

    assert_opsgenie_accepted(created)
    incident = Incident.objects.unscoped().get()
    assert (incident.title, incident.dedup_key, incident.status) == (
        "Replica lag above 5 minutes",
        "db-lag",
        "new",
    )
    assert incident.alert_group.integration_id == opsgenie.pk
    assert incident.tags == ["db", "prod"]
    assert (incident.impact, incident.urgency, incident.severity) == (2, 1, "sev2")  # P2: error
    assert "**Description**\n\nreplica-2 is behind" in incident.description
    assert "**Entity**\n\nreplica-2" in incident.description
    assert "- **lag**: `312s`" in incident.description
    first = Alert.objects.unscoped().get()
    assert (first.action, first.outcome, first.severity, first.source) == (
        "trigger",
        "opened",
        "error",
        "zabbix",
    )

    acked = genie(
        client,
        "/v2/alerts/db-lag/acknowledge?identifierType=alias",
        {"user": "jane", "note": "Looking"},
        opsgenie.key,
    )

    assert_opsgenie_accepted(acked)
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    ack = Alert.objects.unscoped().get(action="acknowledge")
    assert (ack.outcome, ack.summary, ack.source) == ("acknowledged", "Looking", "jane")
    entry = TimelineEntry.objects.unscoped().last()
    assert (entry.body, entry.data) == ("Looking", {"from": "new", "to": "acknowledged"})

    closed = genie(client, "/v2/alerts/db-lag/close?identifierType=alias", {}, opsgenie.key)

    assert_opsgenie_accepted(closed)
    incident.refresh_from_db()
    assert incident.status == "resolved"
    close = Alert.objects.unscoped().get(action="resolve")
    assert (close.outcome, close.incident_id, close.summary) == (
        "resolved",
        incident.pk,
        "resolve by Opsgenie API",
    )
    assert counts() == {"Alert": 3, "ChangeEvent": 0, "Incident": 1, "TimelineEntry": 3}


def test_opsgenie_acknowledge_with_an_empty_body_is_accepted(client, opsgenie):
    genie(client, "/v2/alerts", {"message": "Down", "alias": "a1"}, opsgenie.key)

    response = genie(
        client, "/v2/alerts/a1/acknowledge?identifierType=alias", None, opsgenie.key, raw=""
    )

    assert_opsgenie_accepted(response)
    assert Incident.objects.unscoped().get().status == "acknowledged"
    assert Alert.objects.unscoped().get(action="acknowledge").payload == {"alias": "a1"}


def test_opsgenie_create_without_alias_dedups_on_the_message(client, opsgenie):
    genie(client, "/v2/alerts", {"message": "Backup failed"}, opsgenie.key)
    genie(client, "/v2/alerts", {"message": "Backup failed"}, opsgenie.key)

    incident = Incident.objects.unscoped().get()
    assert [a.outcome for a in Alert.objects.unscoped().order_by("id")] == ["opened", "grouped"]
    assert incident.severity == "sev3"  # P3 by default: warning


@pytest.mark.parametrize("identifier_type", ["id", "tiny", None])
def test_opsgenie_identifier_type_other_than_alias_is_422(client, opsgenie, identifier_type):
    genie(client, "/v2/alerts", {"message": "Down", "alias": "a1"}, opsgenie.key)
    before = counts()
    query = "" if identifier_type is None else f"?identifierType={identifier_type}"

    response = genie(client, f"/v2/alerts/a1/close{query}", {}, opsgenie.key)

    assert_opsgenie_refused(
        response, 422, "Beacon finds alerts by alias: add ?identifierType=alias"
    )
    assert counts() == before
    assert Incident.objects.unscoped().get().status == "new"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"alias": "x"}, "'message' is missing or blank"),
        ({"message": "   "}, "'message' is missing or blank"),
        ({"message": 5}, "'message' must be a string"),
        ({"message": "x" * 131}, "'message' is longer than 130 characters"),
        ({"message": "Down", "priority": "P6"}, "'priority' must be one of P1, P2, P3, P4, P5"),
        ({"message": "Down", "tags": "db"}, "'tags' must be a list of strings"),
        ({"message": "Down", "details": ["a"]}, "'details' must be an object"),
    ],
)
def test_opsgenie_invalid_create_is_422_json(client, opsgenie, body, error):
    response = genie(client, "/v2/alerts", body, opsgenie.key)

    assert_opsgenie_refused(response, 422, error)
    assert response.json()["message"] == "Event object is invalid"
    assert counts() == EMPTY


def test_opsgenie_unknown_key_is_401(client, opsgenie):
    response = genie(client, "/v2/alerts", {"message": "Down"}, uuid.uuid4().hex)

    assert_opsgenie_refused(response, 401, "Invalid key")
    assert counts() == EMPTY


@pytest.mark.parametrize("header", [None, "Bearer KEY", "GenieKey ", "KEY"])
def test_opsgenie_missing_or_malformed_authorization_is_401(client, opsgenie, header):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header.replace("KEY", opsgenie.key)}

    response = client.post(
        "/v2/alerts",
        data=json.dumps({"message": "Down"}),
        content_type="application/json",
        **headers,
    )

    assert_opsgenie_refused(response, 401)
    assert response.json()["message"] == "Authorization: GenieKey <key> is required."
    assert counts() == EMPTY


def test_opsgenie_close_of_an_unknown_alias_is_stored_as_dropped(client, opsgenie):
    response = genie(client, "/v2/alerts/nope/close?identifierType=alias", {}, opsgenie.key)

    assert_opsgenie_accepted(response)
    alert = Alert.objects.unscoped().get()
    assert (alert.action, alert.outcome, alert.incident_id) == ("resolve", "dropped", None)
    assert counts()["Incident"] == 0


# --- The generic webhook ----------------------------------------------------------------------


def hook(client, integration, body):
    return client.post(
        f"/integrations/generic/{integration.key}/",
        data=json.dumps(body),
        content_type="application/json",
    )


def test_generic_trigger_acknowledge_resolve(client, generic):
    triggered = hook(
        client,
        generic,
        {
            "action": "trigger",
            "dedup_key": "nightly-backup",
            "summary": "Nightly backup failed",
            "severity": "error",
            "source": "backup-host",
            "details": {"exit": 2},
            "links": [{"href": "https://logs.example.com/backup", "text": "Logs"}],
            "timestamp": "2026-11-28T02:00:00Z",
        },
    )

    assert triggered.status_code == 202
    assert triggered.json() == {
        "status": "success",
        "message": "1 stored, 0 already received",
        "incidents": ["INC-1"],
        "dedup_key": "nightly-backup",
    }
    incident = Incident.objects.unscoped().get()
    assert (incident.title, incident.status, incident.dedup_key) == (
        "Nightly backup failed",
        "new",
        "nightly-backup",
    )
    assert (incident.impact, incident.urgency, incident.severity, incident.priority) == (
        2,
        1,
        "sev2",
        2,
    )
    assert incident.occurred_at == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert "- **exit**: `2`" in incident.description
    assert "- [Logs](https://logs.example.com/backup)" in incident.description

    acked = hook(client, generic, {"action": "acknowledge", "dedup_key": "nightly-backup"})

    assert acked.status_code == 202
    assert acked.json()["incidents"] == ["INC-1"]
    incident.refresh_from_db()
    assert incident.status == "acknowledged"

    resolved = hook(client, generic, {"action": "resolve", "dedup_key": "nightly-backup"})

    assert resolved.status_code == 202
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert [(a.action, a.outcome) for a in Alert.objects.unscoped().order_by("id")] == [
        ("trigger", "opened"),
        ("acknowledge", "acknowledged"),
        ("resolve", "resolved"),
    ]
    assert counts() == {"Alert": 3, "ChangeEvent": 0, "Incident": 1, "TimelineEntry": 3}


def test_generic_defaults_trigger_with_a_generated_key(client, generic):
    response = hook(client, generic, {"summary": "Something broke"})

    assert response.status_code == 202
    dedup_key = response.json()["dedup_key"]
    assert len(dedup_key) == 32
    incident = Incident.objects.unscoped().get()
    assert (incident.dedup_key, incident.severity) == (dedup_key, "sev3")  # warning


def test_generic_resolve_without_an_open_incident_is_dropped(client, generic):
    response = hook(client, generic, {"action": "resolve", "dedup_key": "none"})

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "1 stored, 0 already received",
        "incidents": [],
        "dedup_key": "none",
    }
    assert Alert.objects.unscoped().get().outcome == "dropped"
    assert counts()["Incident"] == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "'summary' is missing or blank"),
        ({"summary": 3}, "'summary' must be a string"),
        (
            {"summary": "x", "action": "escalate"},
            "'action' must be one of trigger, acknowledge, resolve",
        ),
        ({"action": "resolve"}, "'dedup_key' is missing or blank"),
        (
            {"summary": "x", "severity": "sev1"},
            "'severity' must be one of critical, error, warning, info",
        ),
        ({"summary": "x", "details": "text"}, "'details' must be an object"),
        (
            {"summary": "x", "links": "https://x"},
            "'links' must be a list of objects with an 'href'",
        ),
        (
            {"summary": "x", "timestamp": 1732780800},
            "'timestamp' must be an ISO 8601 time with a time zone",
        ),
        (
            {"summary": "x", "timestamp": "2026-11-28T02:00:00"},
            "'timestamp' must be an ISO 8601 time with a time zone",
        ),
        ({"summary": "x", "dedup_key": "k" * 256}, "'dedup_key' is longer than 255 characters"),
    ],
)
def test_generic_invalid_event_is_refused(client, generic, body, error):
    response = hook(client, generic, body)

    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert response.json()["message"] == "Event object is invalid"
    assert error in response.json()["errors"]
    assert counts() == EMPTY


def test_generic_empty_body_is_refused(client, generic):
    response = client.post(
        f"/integrations/generic/{generic.key}/", data="", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == ["The body must be a JSON object"]
    assert counts() == EMPTY


@pytest.mark.parametrize("alias", ["db/primary", "disk full: /var", "ümlaut?&#"])
def test_opsgenie_alias_with_reserved_characters_can_be_acknowledged_and_closed(
    client, opsgenie, alias
):
    genie(client, "/v2/alerts", {"message": "Down", "alias": alias}, opsgenie.key)
    encoded = quote(alias, safe="")  # as the Opsgenie SDK sends the identifier

    acked = genie(
        client, f"/v2/alerts/{encoded}/acknowledge?identifierType=alias", {}, opsgenie.key
    )
    assert_opsgenie_accepted(acked)
    assert Incident.objects.unscoped().get().status == "acknowledged"

    closed = genie(client, f"/v2/alerts/{encoded}/close?identifierType=alias", {}, opsgenie.key)

    assert_opsgenie_accepted(closed)
    incident = Incident.objects.unscoped().get()
    assert (incident.dedup_key, incident.status) == (alias, "resolved")
    assert [a.outcome for a in Alert.objects.unscoped().order_by("id")] == [
        "opened",
        "acknowledged",
        "resolved",
    ]
