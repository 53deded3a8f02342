"""A service's alert severity map: set in the API and the admin, validated, and applied to
the incidents its alerts open."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from incidents.models import Incident, Service
from tenancy.models import Role

pytestmark = pytest.mark.django_db

VALID = {"warning": {"impact": 1, "urgency": 2, "severity": "sev2"}}
INVALID = [
    ["warning"],
    {"fatal": {"impact": 1}},
    {"warning": "high"},
    {"warning": {"impact": 4}},
    {"warning": {"impact": True}},
    {"warning": {"severity": "sev9"}},
    {"warning": {"colour": "red"}},
]


@pytest.fixture
def admin_client(api_client_for, member):
    return api_client_for(member(Role.ADMIN))


def service_url(org, slug):
    return reverse("service-detail", kwargs={"org": org.slug, "slug": slug})


def test_the_api_sets_it_and_alerts_follow_it(org, integration, admin_client, client):
    pagerduty = integration()
    service = pagerduty.service
    response = admin_client.patch(
        service_url(org, service.slug), {"alert_severity_map": VALID}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["alert_severity_map"] == VALID
    event = {"routing_key": pagerduty.key, "event_action": "trigger", "dedup_key": "d"}
    event["payload"] = {"summary": "Slow", "source": "web-1", "severity": "warning"}
    response = client.post("/v2/enqueue", json.dumps(event), content_type="application/json")
    assert response.status_code == 202
    incident = Incident.objects.for_org(org).get()
    assert (incident.impact, incident.urgency, incident.severity) == (1, 2, "sev2")
    assert incident.priority == 2  # the default matrix: impact 1 x urgency 2


@pytest.mark.parametrize("value", INVALID, ids=repr)
def test_the_api_refuses_a_bad_map_and_keeps_the_old_one(org, integration, admin_client, value):
    service = integration().service
    Service.objects.for_org(org).filter(pk=service.pk).update(alert_severity_map=VALID)
    response = admin_client.patch(
        service_url(org, service.slug), {"alert_severity_map": value}, format="json"
    )
    assert response.status_code == 400
    assert "alert_severity_map" in response.json()
    assert Service.objects.for_org(org).get(pk=service.pk).alert_severity_map == VALID


@pytest.mark.parametrize("body_format", ["json", "multipart"])
def test_a_null_map_is_refused_from_a_form_as_from_json(org, admin_client, body_format):
    """A form sends the text "null", which DRF parses after its own check for null."""
    create = reverse("service-list", kwargs={"org": org.slug})
    body = {"slug": "web", "name": "Web", "alert_severity_map": "null"}
    if body_format == "json":
        body["alert_severity_map"] = None
    response = admin_client.post(create, body, format=body_format)
    assert response.status_code == 400
    assert response.json() == {"alert_severity_map": ["This field may not be null."]}
    assert not Service.objects.for_org(org).exists()

    admin_client.post(create, {"slug": "web", "name": "Web", "alert_severity_map": VALID})
    body = {"alert_severity_map": None if body_format == "json" else "null"}
    response = admin_client.patch(service_url(org, "web"), body, format=body_format)
    assert response.status_code == 400
    assert Service.objects.for_org(org).get().alert_severity_map == VALID


def test_the_admin_refuses_a_bad_map(org, integration, member, client_for):
    service = integration().service
    client = client_for(member(Role.ADMIN))
    url = reverse("admin:incidents_service_change", args=[service.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = {
        "organization": org.pk,
        "slug": service.slug,
        "name": service.name,
        "description": "",
        "team": "",
        "status": "operational",
        "alert_severity_map": json.dumps({"warning": {"impact": 9}}),
    }
    response = client.post(url, form)
    assert response.status_code == 200  # the form again, with the error
    assert b"use 1, 2 or 3" in response.content
    assert Service.objects.for_org(org).get(pk=service.pk).alert_severity_map == {}
    form["alert_severity_map"] = json.dumps(VALID)
    assert client.post(url, form).status_code == 302
    assert Service.objects.for_org(org).get(pk=service.pk).alert_severity_map == VALID
