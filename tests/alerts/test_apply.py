"""Storing alerts and applying them are two steps: what happens between and around them.

A request commits its alerts as pending before answering, then applies them (or finds
them applied by whoever holds the organization's lock). These tests separate the steps to
show that nothing stored is lost: alerts left pending are applied by the sweep or by the
next request, an alert that cannot be applied does not block the others, and a request
that cannot get the lock still answers 202 with its alerts stored.
"""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connections, transaction

from alerts import services, tasks
from alerts.kinds import pagerduty
from alerts.models import Alert
from alerts.services import applying
from incidents import services as incident_services
from incidents.models import Incident
from tenancy import rls

pytestmark = pytest.mark.django_db


def trigger(integration, key, summary="CPU high"):
    body = {"routing_key": integration.key, "event_action": "trigger", "dedup_key": key}
    body["payload"] = {"summary": summary, "source": "web-1", "severity": "error"}
    return body


def store(integration, *bodies):
    with transaction.atomic():
        rls.add_tenant(integration.organization_id)
        events = [pagerduty.parse_event(body)[1] for body in bodies]
        return services.store(integration, events)


def outcomes(organization):
    alerts = Alert.objects.for_org(organization).order_by("id")
    return [(alert.dedup_key, alert.outcome, alert.incident_id is not None) for alert in alerts]


def test_stored_alerts_wait_pending_and_the_sweep_applies_them(org, integration):
    pagerduty = integration()
    store(pagerduty, trigger(pagerduty, "a"), trigger(pagerduty, "a"), trigger(pagerduty, "b"))
    assert outcomes(org) == [
        ("a", "pending", False),
        ("a", "pending", False),
        ("b", "pending", False),
    ]
    assert not Incident.objects.for_org(org).exists()

    assert tasks.apply_pending_organization(org.pk) == 3
    assert outcomes(org) == [("a", "opened", True), ("a", "grouped", True), ("b", "opened", True)]
    assert Incident.objects.for_org(org).count() == 2
    assert tasks.apply_pending_organization(org.pk) == 0  # idempotent


def test_the_sweep_leaves_a_deactivated_organizations_alerts_pending(org, integration):
    pagerduty = integration()
    store(pagerduty, trigger(pagerduty, "a"))
    org.is_active = False
    org.save()

    assert tasks.apply_pending() == []
    assert outcomes(org) == [("a", "pending", False)]
    assert not Incident.objects.for_org(org).exists()

    # Accepted while the organization was active: applied once it is active again.
    org.is_active = True
    org.save()
    assert tasks.apply_pending() == [org.pk]
    assert outcomes(org) == [("a", "opened", True)]


def test_the_sweep_sends_one_task_per_active_organization(
    org, other_org, make_org, integration, monkeypatch
):
    dormant = make_org("initech")
    dormant.is_active = False
    dormant.save()
    sent = []
    monkeypatch.setattr(tasks.apply_pending_organization, "delay", sent.append)
    assert tasks.apply_pending() == [org.pk, other_org.pk]
    assert sent == [org.pk, other_org.pk]


def test_one_organizations_sweep_leaves_the_others_alerts_alone(org, other_org, integration):
    ours, theirs = integration(), integration(organization=other_org)
    store(ours, trigger(ours, "a"))
    store(theirs, trigger(theirs, "b"))
    assert tasks.apply_pending_organization(org.pk) == 1
    assert outcomes(org) == [("a", "opened", True)]
    with rls.tenant_context(other_org.pk):
        assert outcomes(other_org) == [("b", "pending", False)]
    assert tasks.apply_pending_organization(other_org.pk) == 1
    with rls.tenant_context(other_org.pk):
        assert outcomes(other_org) == [("b", "opened", True)]


def test_a_request_applies_what_an_earlier_one_left_pending(org, integration, client):
    pagerduty = integration()
    store(pagerduty, trigger(pagerduty, "left-behind"))
    response = client.post(
        "/v2/enqueue", json.dumps(trigger(pagerduty, "new")), content_type="application/json"
    )
    assert response.status_code == 202
    assert outcomes(org) == [("left-behind", "opened", True), ("new", "opened", True)]


def test_an_alert_that_cannot_be_applied_is_marked_failed_and_blocks_nothing(
    org, integration, monkeypatch
):
    pagerduty = integration()
    real = incident_services.incidents_open_many

    def open_many(*, organization, actor, specs):
        if any(spec["title"] == "poison" for spec in specs):
            raise RuntimeError("cannot open this one")
        return real(organization=organization, actor=actor, specs=specs)

    monkeypatch.setattr(incident_services, "incidents_open_many", open_many)
    store(pagerduty, trigger(pagerduty, "a"), trigger(pagerduty, "b", summary="poison"))
    store(pagerduty, trigger(pagerduty, "c"))
    services.apply_pending(org.pk)
    assert outcomes(org) == [("a", "opened", True), ("b", "failed", False), ("c", "opened", True)]


def test_acknowledge_and_resolve_in_one_batch_act_in_order(org, integration):
    pagerduty = integration()
    ack = {"routing_key": pagerduty.key, "event_action": "acknowledge", "dedup_key": "a"}
    resolve = {**ack, "event_action": "resolve"}
    store(pagerduty, trigger(pagerduty, "a"), ack, resolve, trigger(pagerduty, "a"))
    services.apply_pending(org.pk)
    assert [o for _, o, _ in outcomes(org)] == ["opened", "acknowledged", "resolved", "opened"]
    statuses = list(Incident.objects.for_org(org).order_by("number").values_list("status"))
    assert statuses == [("resolved",), ("new",)]  # the trigger after the resolve: a new one


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_that_cannot_get_the_lock_answers_202_with_its_alert_stored(
    org, integration, client, monkeypatch
):
    """While another transaction holds the organization's lock (a long batch), a request
    waits at most APPLY_WAIT, answers 202 and leaves its alert pending; once the lock is
    free the sweep applies it."""
    monkeypatch.setattr(applying, "APPLY_WAIT", 0.3)
    pagerduty = integration()
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic():
                rls.add_tenant(org.pk)
                incident_services.lock_numbering(org.pk)
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert holding.wait(10)
        response = client.post(
            "/v2/enqueue", json.dumps(trigger(pagerduty, "a")), content_type="application/json"
        )
        assert response.status_code == 202
        with rls.tenant_context(org.pk):
            assert outcomes(org) == [("a", "pending", False)]
    finally:
        release.set()
        holder.join()
    assert tasks.apply_pending_organization(org.pk) == 1
    with rls.tenant_context(org.pk):
        assert outcomes(org) == [("a", "opened", True)]


def test_a_transient_error_leaves_alerts_pending_not_failed(org, integration, monkeypatch):
    """A lost connection or a lock timeout says nothing about the alert: it is applied
    later, never marked failed."""
    from django.db import OperationalError

    pagerduty = integration()
    real = incident_services.incidents_open_many

    def flaky(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(incident_services, "incidents_open_many", flaky)
    store(pagerduty, trigger(pagerduty, "a"))
    assert services.apply_pending(org.pk) == {}
    assert outcomes(org) == [("a", "pending", False)]
    monkeypatch.setattr(incident_services, "incidents_open_many", real)
    assert tasks.apply_pending_organization(org.pk) == 1
    assert outcomes(org) == [("a", "opened", True)]


def test_an_alert_twice_in_one_notification_is_stored_once(org, integration, client):
    alertmanager = integration("alertmanager")
    alert = {
        "status": "firing",
        "labels": {"alertname": "Down", "instance": "a"},
        "annotations": {},
        "startsAt": "2026-11-28T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "f1",
    }
    body = {"version": "4", "receiver": "r", "status": "firing", "groupLabels": {}}
    body["alerts"] = [alert, dict(alert)]
    response = client.post(
        f"/integrations/alertmanager/{alertmanager.key}/",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.json()["message"] == "1 stored, 1 already received"
    assert response.json()["incidents"] == ["INC-1"]
    assert Alert.objects.for_org(org).count() == 1


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_time_far_from_now_is_refused(org, integration, client, timestamp):
    """In range for Python, but an incident cannot have occurred then (and the portal's
    display in the organization's time zone overflows)."""
    integrated = integration("pagerduty")
    body = {
        "routing_key": integrated.key,
        "event_action": "trigger",
        "payload": {"summary": "x", "source": "y", "severity": "info", "timestamp": timestamp},
    }
    response = client.post("/v2/enqueue", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "'payload.timestamp' must be a time between 1970 and now" in str(response.json())
    assert not Alert.objects.for_org(org).exists()


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        (  # a priority that is no string
            "/v2/alerts",
            {"message": "Disk full", "priority": ["P1"]},
            "opsgenie",
        ),
        (  # a valid time at the end of time: it overflows once stored in UTC
            "/v2/enqueue",
            {
                "event_action": "trigger",
                "payload": {
                    "summary": "x",
                    "source": "y",
                    "severity": "info",
                    "timestamp": "9999-12-31T23:00:00-05:00",
                },
            },
            "pagerduty",
        ),
    ],
)
def test_odd_values_are_refused_not_a_500(org, integration, client, path, body, headers):
    integrated = integration(headers)
    extra = {"HTTP_AUTHORIZATION": f"GenieKey {integrated.key}"} if headers == "opsgenie" else {}
    if headers == "pagerduty":
        body = {**body, "routing_key": integrated.key}
    response = client.post(path, json.dumps(body), content_type="application/json", **extra)
    assert response.status_code in (400, 422)
    assert response.json()
    assert not Alert.objects.for_org(org).exists()


def test_each_alert_that_reaches_an_incident_publishes_alert_received(org, integration):
    from events.models import Event
    from tests.conftest import see

    pagerduty = integration()
    acknowledge = {"routing_key": pagerduty.key, "event_action": "acknowledge", "dedup_key": "a"}
    orphan = {"routing_key": pagerduty.key, "event_action": "resolve", "dedup_key": "none"}
    store(pagerduty, trigger(pagerduty, "a"), trigger(pagerduty, "a"), acknowledge, orphan)
    tasks.apply_pending_organization(org.pk)

    see(org)
    incident = Incident.objects.for_org(org).get()
    events = list(
        Event.objects.for_org(org).filter(stream=f"incident:{incident.pk}").order_by("pk")
    )
    # In the order things happened: each alert once its effect is applied.
    assert [(e.type, e.payload.get("alert", {}).get("outcome")) for e in events] == [
        ("incident.created", None),
        ("alert.received", "opened"),
        ("alert.received", "grouped"),
        ("incident.status_changed", None),
        ("alert.received", "acknowledged"),
    ]
    assert events[-1].payload["incident"]["status"] == "acknowledged"
    opened = events[1].payload
    assert opened["alert"]["dedup_key"] == "a"
    assert opened["alert"]["integration_id"] == pagerduty.pk
    assert opened["alert"]["source"] == "web-1"
    assert opened["actor"]["label"] == f"{pagerduty.name} (PagerDuty Events API v2)"
    # The resolve for a key with no open incident reached nothing: no event for it.
    assert Event.objects.for_org(org).filter(type="alert.received").count() == 3


def test_a_trigger_after_an_acknowledgement_describes_the_incident_as_it_is_now(org, integration):
    """Events of one batch carry the incident as the earlier alerts of the batch left it."""
    from events.models import Event
    from tests.conftest import see

    pagerduty = integration()
    acknowledge = {"routing_key": pagerduty.key, "event_action": "acknowledge", "dedup_key": "a"}
    store(pagerduty, trigger(pagerduty, "a"), acknowledge, trigger(pagerduty, "a"))
    tasks.apply_pending_organization(org.pk)
    see(org)
    last = Event.objects.for_org(org).filter(type="alert.received").order_by("pk").last()
    assert last.payload["alert"]["outcome"] == "grouped"
    assert last.payload["incident"]["status"] == "acknowledged"
