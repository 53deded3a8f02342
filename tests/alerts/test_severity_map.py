"""A service's alert severity map: set in the API and the admin, validated, and applied to
the incidents its alerts open."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from alerts.models import SeverityMap
from incidents.models import Incident, Service
from tenancy.models import AuditEvent, Role

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


def levels(org, service=None):
    """The map stored for the service (the only one when not named); None without one."""
    maps = SeverityMap.objects.for_org(org)
    row = (maps.filter(service=service) if service else maps).first()
    return None if row is None else row.levels


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
    SeverityMap.objects.create(organization=org, service=service, levels=VALID)
    response = admin_client.patch(
        service_url(org, service.slug), {"alert_severity_map": value}, format="json"
    )
    assert response.status_code == 400
    assert "alert_severity_map" in response.json()
    assert levels(org, service) == VALID


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
    assert levels(org) == VALID


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
    assert levels(org, service) is None
    form["alert_severity_map"] = json.dumps(VALID)
    assert client.post(url, form).status_code == 302
    assert levels(org, service) == VALID


def test_creating_a_service_with_a_map_stores_it_and_audits_it(org, admin_client):
    create = reverse("service-list", kwargs={"org": org.slug})
    response = admin_client.post(
        create, {"slug": "web", "name": "Web", "alert_severity_map": VALID}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["alert_severity_map"] == VALID
    service = Service.objects.for_org(org).get()
    assert levels(org, service) == VALID
    assert admin_client.get(service_url(org, "web")).json()["alert_severity_map"] == VALID

    # A change the map does not see leaves it; clearing it goes back to the defaults.
    admin_client.patch(service_url(org, "web"), {"name": "Website"}, format="json")
    assert levels(org, service) == VALID
    cleared = admin_client.patch(service_url(org, "web"), {"alert_severity_map": {}}, format="json")
    assert cleared.json()["alert_severity_map"] == {}
    actions = AuditEvent.objects.for_org(org).filter(target_type__in=["service", "severitymap"])
    assert list(actions.order_by("id").values_list("action", "after")) == [
        ("service.created", {}),
        ("severitymap.created", {"levels": VALID}),
        ("service.updated", {"name": "Website"}),
        ("severitymap.updated", {"levels": {}}),
    ]


def test_listing_services_with_maps_takes_the_same_queries_whatever_the_count(
    org, admin_client, django_assert_max_num_queries
):
    def add(count):
        start = Service.objects.for_org(org).count()
        for i in range(start, start + count):
            service = Service.objects.create(organization=org, slug=f"s{i}", name=f"S{i}")
            SeverityMap.objects.create(organization=org, service=service, levels=VALID)

    listing = reverse("service-list", kwargs={"org": org.slug})
    add(2)
    with django_assert_max_num_queries(20) as few:
        assert len(admin_client.get(listing).json()["results"]) == 2
    add(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        results = admin_client.get(listing).json()["results"]
    assert len(results) == 22
    assert all(result["alert_severity_map"] == VALID for result in results)


def test_another_organizations_admin_can_neither_read_nor_change_it(
    org, other_org, integration, member, api_client_for
):
    service = integration().service
    SeverityMap.objects.create(organization=org, service=service, levels=VALID)
    stranger = api_client_for(member(Role.ADMIN, organization=other_org))
    url = service_url(org, service.slug)
    assert stranger.get(url).status_code == 404
    refused = stranger.patch(url, {"alert_severity_map": {}}, format="json")
    assert refused.status_code == 404
    assert b"sev2" not in refused.content
    assert levels(org, service) == VALID
    other_url = service_url(other_org, service.slug)
    assert stranger.patch(other_url, {"alert_severity_map": {}}).status_code == 404


def test_the_admin_shows_the_stored_map(org, integration, member, client_for):
    service = integration().service
    SeverityMap.objects.create(organization=org, service=service, levels=VALID)
    client = client_for(member(Role.ADMIN))
    page = client.get(reverse("admin:incidents_service_change", args=[service.pk]))
    assert page.status_code == 200
    assert json.loads(page.context["adminform"].form["alert_severity_map"].value()) == VALID
    assert b"&quot;sev2&quot;" in page.content
