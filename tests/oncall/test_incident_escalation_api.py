"""``incidents/<n>/`` shows the incident's escalation (on-call's, through core.extensions):
the running one, else the last; null for reporters and for incidents nobody escalated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from oncall.services import escalations
from tenancy.models import Role
from tests.oncall.engine_helpers import make_policy, make_service, open_incident

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@time_machine.travel(T0, tick=False)
def test_the_incident_shows_its_escalation_to_those_who_see_pages(
    org, member, api_client_for, django_capture_on_commit_callbacks
):
    alice = member(Role.RESPONDER, username="alice")
    policy = make_policy(org, "Checkout", [{"delay": 10, "users": [alice]}, {"users": [alice]}])
    service = make_service(org, "checkout", policy=policy)
    reporter = member(Role.REPORTER)
    incident = open_incident(org, django_capture_on_commit_callbacks, service=service)
    plain = open_incident(org, django_capture_on_commit_callbacks, title="Quiet")
    escalations.escalations_tick(organization_id=org.pk)

    client = api_client_for(alice)
    detail = client.get(
        reverse("incident-detail", kwargs={"org": org.slug, "number": incident.number})
    ).json()
    assert detail["escalation"] == {
        "id": detail["escalation"]["id"],
        "policy": "Checkout",
        "state": "active",
        "step": 1,
        "repeat": 0,
        "next_escalation_at": "2026-03-02T09:10:00Z",
        "started_at": "2026-03-02T09:00:00Z",
    }
    listed = client.get(reverse("incident-list", kwargs={"org": org.slug})).json()["results"]
    by_number = {item["number"]: item["escalation"] for item in listed}
    assert by_number[incident.number]["state"] == "active"
    assert by_number[plain.number] is None

    # Reporters see their incident, not how it escalates.
    theirs = open_incident(
        org, django_capture_on_commit_callbacks, service=service, reporter=reporter
    )
    seen = api_client_for(reporter).get(
        reverse("incident-detail", kwargs={"org": org.slug, "number": theirs.number})
    )
    assert seen.status_code == 200
    assert seen.json()["escalation"] is None
