"""Alert ingestion under concurrency and crashes, on PostgreSQL.

- Identical triggers sent at the same instant open exactly one incident (the partial
  unique index ``alert_group_open_key``), store every alert, and burn no incident number.
- An Alertmanager notification re-sent in parallel stores each of its alerts once (the
  fingerprint constraint).
- A 202 means the event is stored durably: SIGKILL of the whole server right after the
  answer loses nothing.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.test import Client

from alerts.models import Alert, Integration
from incidents.models import Incident, IncidentSequence
from incidents.states import Status
from tests.servers import REQUEST_TIMEOUT, gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Kind = Integration.Kind
THREADS = 20
BARRIER_TIMEOUT = 30  # seconds: a thread that never arrives fails the test, not hangs it


def _in_parallel(request: Callable[[], object], count: int = THREADS) -> list[object]:
    """Runs `request` in `count` threads released together; their results, or raises the
    first exception one of them hit."""
    barrier = threading.Barrier(count, timeout=BARRIER_TIMEOUT)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = request()
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads), "a request thread hung"
    if errors:
        raise errors[0]
    return results


def _post(path: str, body: dict) -> tuple[int, dict]:
    response = Client().post(path, data=json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_identical_parallel_triggers_open_one_incident_and_store_every_alert(
    org, integration, in_tenant
):
    pd = integration(Kind.PAGERDUTY)
    event = {
        "routing_key": pd.key,
        "event_action": "trigger",
        "dedup_key": "db-1-disk",
        "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical"},
    }

    answers = _in_parallel(lambda: _post("/v2/enqueue", event))

    assert [status for status, _ in answers] == [202] * THREADS
    assert {body["dedup_key"] for _, body in answers} == {"db-1-disk"}
    with in_tenant(org):
        incident = Incident.objects.for_org(org).get()
        alerts = list(Alert.objects.for_org(org))
        last_number = IncidentSequence.objects.for_org(org).get().last_number
    assert incident.number == 1
    assert last_number == 1  # the losers' numbers were rolled back: no gap
    assert incident.status == Status.NEW
    assert len(alerts) == THREADS
    assert {a.incident_id for a in alerts} == {incident.pk}
    assert sorted(a.outcome for a in alerts) == sorted(
        [Alert.Outcome.OPENED] + [Alert.Outcome.GROUPED] * (THREADS - 1)
    )


def _alertmanager_notification() -> dict:
    def alert(instance: str, fingerprint: str) -> dict:
        return {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "instance": instance, "severity": "critical"},
            "annotations": {"summary": f"Latency above 2 s on {instance}"},
            "startsAt": "2026-03-01T12:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://prometheus.example.com/graph",
            "fingerprint": fingerprint,
        }

    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "beacon",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "https://alertmanager.example.com",
        "alerts": [
            alert("api-1:9100", "a1b2c3d4e5f60001"),
            alert("api-2:9100", "a1b2c3d4e5f60002"),
            alert("api-3:9100", "a1b2c3d4e5f60003"),
        ],
    }


def test_a_notification_sent_in_parallel_stores_each_alert_once(org, integration, in_tenant):
    am = integration(Kind.ALERTMANAGER)
    notification = _alertmanager_notification()

    answers = _in_parallel(lambda: _post(f"/integrations/alertmanager/{am.key}/", notification))

    assert [status for status, _ in answers] == [202] * THREADS
    assert {tuple(body["incidents"]) for _, body in answers} == {("INC-1",)}
    # Every alert was stored by exactly one of the requests.
    stored = sum(int(body["message"].split(" stored")[0]) for _, body in answers)
    assert stored == 3
    with in_tenant(org):
        incident = Incident.objects.for_org(org).get()
        alerts = list(Alert.objects.for_org(org))
        last_number = IncidentSequence.objects.for_org(org).get().last_number
    assert last_number == 1
    assert incident.title == "HighLatency"
    assert len(alerts) == 3
    assert sorted(a.fingerprint.split(":")[1] for a in alerts) == [
        "a1b2c3d4e5f60001",
        "a1b2c3d4e5f60002",
        "a1b2c3d4e5f60003",
    ]
    assert {a.incident_id for a in alerts} == {incident.pk}


# --- Durability -----------------------------------------------------------------------------


def _wait_for_other_connections_to_close(timeout: float = 10) -> None:
    """The killed server's backends end when PostgreSQL notices; wait, so that the test
    database can be flushed and dropped."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


def test_a_202_survives_a_sigkill_right_after_the_answer(org, integration, in_tenant, tmp_path):
    pd = integration(Kind.PAGERDUTY)
    event = {
        "routing_key": pd.key,
        "event_action": "trigger",
        "dedup_key": "durable-1",
        "payload": {"summary": "Power loss in rack 7", "source": "pdu-7", "severity": "error"},
    }

    try:
        # A killed master removes no metrics directory of its own: give it the test's.
        with gunicorn(env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}) as server:
            base, output = server.base, server.output
            request = urllib.request.Request(
                f"{base}/v2/enqueue",
                data=json.dumps(event).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                    status, body = response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                pytest.fail(f"{error.code} {error.read()[:500]!r}\n{output()}")
            server.kill()  # at once: no graceful shutdown, no worker exit hooks
        assert status == 202, output()
        assert body["dedup_key"] == "durable-1"
    finally:
        _wait_for_other_connections_to_close()

    with in_tenant(org):
        incident = Incident.objects.for_org(org).select_related("alert_group").get()
        alert = Alert.objects.for_org(org).get()
    assert incident.dedup_key == "durable-1"
    assert incident.title == "Power loss in rack 7"
    assert incident.alert_group.integration_id == pd.pk
    assert (alert.incident_id, alert.outcome) == (incident.pk, Alert.Outcome.OPENED)
