"""Alert ingestion end to end: the real PagerDuty and Opsgenie client libraries talk to
Beacon over TLS, and the rows they leave in the database are checked.

Beacon answers from the TLS server's threads, so these tests use ``transactional_db``
(through ``beacon_tls``) and read rows inside the organization's tenant context.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import opsgenie_sdk
import pagerduty
import pytest

from alerts.models import Alert, ChangeEvent, Integration
from alerts.severities import DEFAULT_SEVERITY_MAP
from incidents.models import Incident, Priority, Severity, TimelineEntry
from incidents.priority import DEFAULT_MATRIX
from incidents.states import Status

Kind = Integration.Kind


def _incidents(org):
    return Incident.objects.for_org(org).select_related("alert_group").order_by("number")


def _alerts(org):
    return Alert.objects.for_org(org).order_by("received_at", "id")


def _expected_priority(severity: str) -> int:
    fields = DEFAULT_SEVERITY_MAP[severity]
    return DEFAULT_MATRIX[(fields["impact"], fields["urgency"])]


def _status_entries(incident):
    return TimelineEntry.objects.for_org(incident.organization_id).filter(
        incident=incident, kind=TimelineEntry.Kind.STATUS_CHANGED
    )


class TestPagerDutyClient:
    def test_trigger_opens_one_incident_and_a_repeat_groups_onto_it(
        self, org, integration, pagerduty_client, in_tenant
    ):
        pd = integration(Kind.PAGERDUTY)
        client = pagerduty_client(pd.key)

        first = client.trigger("Disk full on db-1", "db-1", dedup_key="disk-db-1", severity="error")
        second = client.trigger(
            "Disk full on db-1", "db-1", dedup_key="disk-db-1", severity="error"
        )

        assert first == second == "disk-db-1"
        with in_tenant(org):
            incident = _incidents(org).get()
            alerts = list(_alerts(org))
        assert incident.source == Incident.Source.ALERT
        assert incident.service_id == pd.service_id
        assert incident.alert_group.integration_id == pd.pk
        assert incident.dedup_key == "disk-db-1"
        assert incident.title == "Disk full on db-1"
        assert incident.status == Status.NEW
        assert incident.severity == DEFAULT_SEVERITY_MAP["error"]["severity"] == Severity.SEV2
        assert incident.impact == DEFAULT_SEVERITY_MAP["error"]["impact"]
        assert incident.urgency == DEFAULT_SEVERITY_MAP["error"]["urgency"]
        assert incident.priority == _expected_priority("error") == Priority.P2
        assert [(a.action, a.outcome, a.incident_id) for a in alerts] == [
            (Alert.Action.TRIGGER, Alert.Outcome.OPENED, incident.pk),
            (Alert.Action.TRIGGER, Alert.Outcome.GROUPED, incident.pk),
        ]
        assert {a.dedup_key for a in alerts} == {"disk-db-1"}
        assert alerts[0].payload["routing_key"] == pd.key  # the raw event is kept
        assert alerts[0].severity == "error"
        assert alerts[0].source == "db-1"

    def test_acknowledge_then_resolve_then_a_new_trigger_opens_a_new_incident(
        self, org, integration, pagerduty_client, in_tenant
    ):
        pd = integration(Kind.PAGERDUTY)
        client = pagerduty_client(pd.key)
        client.trigger("API 5xx", "api", dedup_key="api-5xx", severity="critical")

        assert client.acknowledge("api-5xx") == "api-5xx"
        with in_tenant(org):
            incident = _incidents(org).get()
            entries = list(_status_entries(incident))
        assert incident.status == Status.ACKNOWLEDGED
        assert incident.acknowledged_at is not None
        assert incident.severity == Severity.SEV1
        assert incident.priority == Priority.P1
        assert [(e.actor_id, e.actor_label) for e in entries] == [
            (None, f"{pd.name} ({pd.get_kind_display()})")
        ]

        assert client.resolve("api-5xx") == "api-5xx"
        with in_tenant(org):
            incident.refresh_from_db()
            assert _status_entries(incident).count() == 2
        assert incident.status == Status.RESOLVED
        assert incident.resolved_at is not None

        client.trigger("API 5xx", "api", dedup_key="api-5xx", severity="critical")
        with in_tenant(org):
            incidents = list(_incidents(org))
            outcomes = [(a.outcome, a.incident_id) for a in _alerts(org)]
        assert [(i.number, i.status) for i in incidents] == [
            (incident.number, Status.RESOLVED),
            (incident.number + 1, Status.NEW),
        ]
        assert outcomes == [
            (Alert.Outcome.OPENED, incident.pk),
            (Alert.Outcome.ACKNOWLEDGED, incident.pk),
            (Alert.Outcome.RESOLVED, incident.pk),
            (Alert.Outcome.OPENED, incidents[1].pk),
        ]

    def test_a_trigger_without_dedup_key_gets_one_that_resolves_it(
        self, org, integration, pagerduty_client, in_tenant
    ):
        pd = integration(Kind.PAGERDUTY)
        client = pagerduty_client(pd.key)

        dedup_key = client.trigger("Queue backlog", "worker-3", severity="warning")

        assert isinstance(dedup_key, str)
        assert len(dedup_key) >= 16  # generated by Beacon
        with in_tenant(org):
            incident = _incidents(org).get()
        assert incident.dedup_key == dedup_key
        assert incident.severity == Severity.SEV3

        assert client.resolve(dedup_key) == dedup_key
        with in_tenant(org):
            incident.refresh_from_db()
        assert incident.status == Status.RESOLVED

    def test_a_change_event_is_recorded_on_the_service_and_opens_nothing(
        self, org, integration, pagerduty_client, in_tenant
    ):
        pd = integration(Kind.PAGERDUTY)
        client = pagerduty_client(pd.key)

        client.send_change_event(
            payload={
                "summary": "Deployed api 1.2.3",
                "source": "ci",
                "timestamp": "2026-03-01T12:00:00Z",
                "custom_details": {"build": 42},
            },
            links=[{"href": "https://ci.example.com/42", "text": "Build 42"}],
        )

        with in_tenant(org):
            change = ChangeEvent.objects.for_org(org).get()
            assert not _incidents(org).exists()
            assert not _alerts(org).exists()
        assert change.service_id == pd.service_id
        assert change.integration_id == pd.pk
        assert change.summary == "Deployed api 1.2.3"
        assert change.source == "ci"
        assert change.timestamp.isoformat() == "2026-03-01T12:00:00+00:00"
        assert change.custom_details == {"build": 42}
        assert change.links == [{"href": "https://ci.example.com/42", "text": "Build 42"}]

    def test_an_unknown_routing_key_raises_a_4xx_http_error_and_stores_nothing(
        self, org, integration, pagerduty_client, in_tenant
    ):
        integration(Kind.PAGERDUTY)
        client = pagerduty_client("0" * 32)

        with pytest.raises(pagerduty.HttpError) as excinfo:
            client.trigger("Disk full", "db-1", dedup_key="x")

        assert not isinstance(excinfo.value, pagerduty.ServerHttpError)
        assert excinfo.value.response.status_code == 404
        assert excinfo.value.response.json()["status"] == "invalid event"
        with in_tenant(org):
            assert not _incidents(org).exists()
            assert not _alerts(org).exists()

    def test_another_organizations_key_acts_only_there(
        self, org, other_org, integration, pagerduty_client, in_tenant
    ):
        ours = integration(Kind.PAGERDUTY)
        theirs = integration(Kind.PAGERDUTY, organization=other_org)

        pagerduty_client(theirs.key).trigger("Their outage", "x", dedup_key="same-key")
        pagerduty_client(ours.key).trigger("Our outage", "y", dedup_key="same-key")

        with in_tenant(org):
            assert [i.title for i in _incidents(org)] == ["Our outage"]
        with in_tenant(other_org):
            assert [i.title for i in _incidents(other_org)] == ["Their outage"]


class TestOpsgenieAlertApi:
    def test_create_groups_acknowledges_and_closes_by_alias(
        self, org, integration, opsgenie_alert_api, in_tenant
    ):
        genie = integration(Kind.OPSGENIE)
        api = opsgenie_alert_api(genie.key)
        payload = opsgenie_sdk.CreateAlertPayload(
            message="Checkout latency above 2 s",
            alias="checkout-latency",
            priority="P1",
            tags=["checkout", "latency"],
            details={"p99": "2.4s"},
        )

        created = api.create_alert(payload)

        assert isinstance(created, opsgenie_sdk.SuccessResponse)
        assert created.request_id
        assert created.result == "Request will be processed"
        with in_tenant(org):
            incident = _incidents(org).get()
        assert incident.title == "Checkout latency above 2 s"
        assert incident.dedup_key == "checkout-latency"
        assert incident.service_id == genie.service_id
        assert incident.source == Incident.Source.ALERT
        assert incident.severity == Severity.SEV1  # P1 -> critical
        assert incident.priority == Priority.P1
        assert incident.tags == ["checkout", "latency"]
        assert "p99" in incident.description

        again = api.create_alert(payload)
        assert again.request_id != created.request_id
        acknowledged = api.acknowledge_alert(
            identifier="checkout-latency",
            identifier_type="alias",
            acknowledge_alert_payload=opsgenie_sdk.AcknowledgeAlertPayload(note="Looking"),
        )
        assert isinstance(acknowledged, opsgenie_sdk.SuccessResponse)
        with in_tenant(org):
            incident.refresh_from_db()
        assert incident.status == Status.ACKNOWLEDGED

        closed = api.close_alert(identifier="checkout-latency", identifier_type="alias")
        assert isinstance(closed, opsgenie_sdk.SuccessResponse)
        with in_tenant(org):
            incident.refresh_from_db()
            outcomes = [(a.action, a.outcome, a.incident_id) for a in _alerts(org)]
            assert _incidents(org).count() == 1
        assert incident.status == Status.RESOLVED
        assert outcomes == [
            (Alert.Action.TRIGGER, Alert.Outcome.OPENED, incident.pk),
            (Alert.Action.TRIGGER, Alert.Outcome.GROUPED, incident.pk),
            (Alert.Action.ACKNOWLEDGE, Alert.Outcome.ACKNOWLEDGED, incident.pk),
            (Alert.Action.RESOLVE, Alert.Outcome.RESOLVED, incident.pk),
        ]

    def test_a_payload_without_message_is_refused_with_422_json(
        self, org, integration, beacon_tls, in_tenant
    ):
        genie = integration(Kind.OPSGENIE)
        # The SDK refuses to build a payload without a message, so send it by hand.
        request = urllib.request.Request(
            f"{beacon_tls.url}/v2/alerts",
            data=json.dumps({"alias": "no-message", "priority": "P1"}).encode(),
            headers={"Authorization": f"GenieKey {genie.key}", "Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(request, context=beacon_tls.client_ssl_context(), timeout=10)

        assert excinfo.value.code == 422
        assert excinfo.value.headers["Content-Type"] == "application/json"
        body = json.loads(excinfo.value.read())
        assert body["requestId"]
        assert any("message" in error for error in body["errors"])
        with in_tenant(org):
            assert not _incidents(org).exists()
            assert not _alerts(org).exists()

    def test_an_unknown_genie_key_is_refused_with_401(
        self, org, integration, opsgenie_alert_api, in_tenant
    ):
        integration(Kind.OPSGENIE)
        api = opsgenie_alert_api("0" * 32)

        # A status the SDK does not retry is raised as is, not wrapped by tenacity.
        with pytest.raises(opsgenie_sdk.exceptions.AuthenticationException) as excinfo:
            api.create_alert(opsgenie_sdk.CreateAlertPayload(message="Disk full", alias="d"))

        assert excinfo.value.status == 401
        assert json.loads(excinfo.value.body)["requestId"]
        with in_tenant(org):
            assert not _incidents(org).exists()
            assert not _alerts(org).exists()
