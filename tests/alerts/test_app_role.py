"""Alert ingestion as production runs it: connected as the PostgreSQL app role.

The app role is no superuser and cannot bypass row-level security, so before an event's
key has named its organization every tenant table but the integration's looks empty. Each
request below runs in a transaction of its own on a connection that is the app role,
exactly like a web process.
"""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from alerts.models import Alert, ChangeEvent, Integration
from incidents.models import Incident

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Kind = Integration.Kind


def _sql(query, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def as_app_role(transactional_db):
    """as_app_role() -> checks that the test's connection is the suite's app role: no
    superuser, no BYPASSRLS (tests/conftest.py connects every test that way)."""

    def check():
        assert _sql("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user") == [
            (False, False)
        ]

    return check


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _post(client: Client, path: str, body: dict, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def _alertmanager(summary: str) -> dict:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "status": "firing",
        "receiver": "beacon",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "https://alertmanager.example.com",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "instance": "db-1", "severity": "critical"},
                "annotations": {"summary": summary},
                "startsAt": "2026-03-01T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "f00dfeed00000001",
            }
        ],
    }


def test_every_integration_kind_opens_an_incident_as_the_app_role(
    org, other_org, integration, in_tenant, as_app_role
):
    # Services named so that the lookup's old default ordering (service__name) mattered.
    pagerduty = integration(Kind.PAGERDUTY)
    opsgenie = integration(Kind.OPSGENIE)
    alertmanager = integration(Kind.ALERTMANAGER)
    generic = integration(Kind.GENERIC)
    integration(Kind.PAGERDUTY, organization=other_org)  # another tenant's, never touched
    client = Client()
    as_app_role()

    sent = _post(
        client,
        "/v2/enqueue",
        {
            "routing_key": pagerduty.key,
            "event_action": "trigger",
            "dedup_key": "pd-1",
            "payload": {"summary": "PagerDuty event", "source": "db-1", "severity": "critical"},
        },
    )
    assert sent.status_code == 202, sent.content
    assert sent.json()["dedup_key"] == "pd-1"

    change = _post(
        client,
        "/v2/change/enqueue",
        {"routing_key": pagerduty.key, "payload": {"summary": "Deployed 42", "source": "ci"}},
    )
    assert change.status_code == 202, change.content

    created = _post(
        client,
        "/v2/alerts",
        {"message": "Opsgenie event", "alias": "og-1", "priority": "P2"},
        HTTP_AUTHORIZATION=f"GenieKey {opsgenie.key}",
    )
    assert created.status_code == 202, created.content
    acknowledged = _post(
        client,
        "/v2/alerts/og-1/acknowledge?identifierType=alias",
        {},
        HTTP_AUTHORIZATION=f"GenieKey {opsgenie.key}",
    )
    assert acknowledged.status_code == 202, acknowledged.content

    fired = _post(
        client, f"/integrations/alertmanager/{alertmanager.key}/", _alertmanager("AM event")
    )
    assert fired.status_code == 202, fired.content
    assert fired.json()["incidents"] == ["INC-3"]

    webhook = _post(
        client,
        f"/integrations/generic/{generic.key}/",
        {"action": "trigger", "dedup_key": "gen-1", "summary": "Generic event"},
    )
    assert webhook.status_code == 202, webhook.content
    assert webhook.json()["incidents"] == ["INC-4"]

    # Read back as the app role too, in the organization's own transaction.
    with in_tenant(org):
        incidents = {
            i.title: (i.number, i.alert_group.integration_id, i.status)
            for i in Incident.objects.for_org(org).order_by("number")
        }
        alerts = Alert.objects.for_org(org).count()
        changes = list(ChangeEvent.objects.for_org(org).values_list("summary", flat=True))
    assert incidents == {
        "PagerDuty event": (1, pagerduty.pk, "new"),
        "Opsgenie event": (2, opsgenie.pk, "acknowledged"),
        "DiskFull": (3, alertmanager.pk, "new"),
        "Generic event": (4, generic.pk, "new"),
    }
    assert alerts == 5
    assert changes == ["Deployed 42"]
    with in_tenant(other_org):
        assert not Incident.objects.for_org(other_org).exists()


def test_an_unknown_key_is_still_refused_as_the_app_role(org, integration, as_app_role):
    integration(Kind.GENERIC)
    as_app_role()

    response = _post(
        Client(), "/integrations/generic/0123456789abcdef/", {"summary": "Nobody's event"}
    )

    assert response.status_code == 404
    assert response.json()["status"] == "invalid key"
