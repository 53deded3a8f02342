"""The engine's metrics on /metrics: escalation lag, pages created, escalations advanced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from prometheus_client.parser import text_string_to_metric_families

from oncall.services import escalations
from tenancy.models import Role
from tests.oncall.engine_helpers import make_policy, make_service, open_incident

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def scrape(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
        if sample.name.startswith("beacon_oncall_")
    }


def test_lag_and_counters(client, org, other_org, member, django_capture_on_commit_callbacks):
    people = [member(Role.RESPONDER, username=name) for name in ("alice", "bob")]
    policy = make_policy(org, "P", [{"delay": 5, "users": people}] * 2)
    service = make_service(org, "svc", policy=policy)
    with time_machine.travel(T0, tick=False) as clock:
        before = scrape(client)
        assert before["beacon_oncall_escalation_lag_seconds"] == 0
        open_incident(org, django_capture_on_commit_callbacks, service=service)
        clock.move_to(T0 + timedelta(seconds=42))
        assert scrape(client)["beacon_oncall_escalation_lag_seconds"] == 42
        with django_capture_on_commit_callbacks(execute=True):
            escalations.escalations_tick(organization_id=org.pk)
        after = scrape(client)
    assert after["beacon_oncall_escalation_lag_seconds"] == 0
    assert (
        after["beacon_oncall_pages_created_total"] - before["beacon_oncall_pages_created_total"]
        == 2
    )
    assert (
        after["beacon_oncall_escalations_advanced_total"]
        - before["beacon_oncall_escalations_advanced_total"]
        == 1
    )
