"""Bidirectional control characters never reach a title or a name, whatever the entry
path: the portal, the API, alerts, the admin, attachments and plain ORM writes."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from alerts import services as alert_services
from alerts.models import Alert, Integration
from core.text import BIDI_CONTROLS, strip_bidi_controls
from incidents import services
from incidents.models import Attachment, Incident, Service
from tenancy import rls
from tenancy.models import Role, Team

pytestmark = pytest.mark.django_db

CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
RLO, PDF = "\u202e", "\u202c"
SPOOFED = f"Disk full on {RLO}1-bd{PDF} now"  # shows as "Disk full on db-1 now"
CLEAN = "Disk full on 1-bd now"


def test_every_control_is_stripped_and_other_text_is_kept():
    assert BIDI_CONTROLS.findall(CONTROLS) == list(CONTROLS)
    arabic = "خادم قاعدة البيانات"  # right-to-left text itself is fine
    assert strip_bidi_controls(f"{CONTROLS}{arabic} ✓ é{CONTROLS}") == f"{arabic} ✓ é"


def test_the_portal_report_form(client_for, member, org):
    client = client_for(member(Role.REPORTER))
    new = reverse("incidents:new", kwargs={"org": org.slug})
    response = client.post(new, {"title": SPOOFED, "impact": 3, "urgency": 3})
    assert response.status_code == 302
    assert Incident.objects.for_org(org).get().title == CLEAN

    only_controls = client.post(new, {"title": f" {CONTROLS} ", "impact": 3, "urgency": 3})
    assert only_controls.status_code == 200
    assert "title" in only_controls.context["form"].errors
    assert Incident.objects.for_org(org).count() == 1

    for page in ("incidents:mine", "incidents:queue"):
        if page == "incidents:queue":
            client = client_for(member(Role.RESPONDER))
        text = client.get(reverse(page, kwargs={"org": org.slug})).content.decode()
        assert CLEAN in text, page
        assert not BIDI_CONTROLS.search(text), page


def test_the_api_creates_and_updates_without_controls(api_client_for, api_key_for, org):
    client = api_client_for(api_key_for(Role.RESPONDER))
    incidents = reverse("incident-list", kwargs={"org": org.slug})
    created = client.post(incidents, {"title": SPOOFED}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["title"] == CLEAN
    detail = reverse("incident-detail", kwargs={"org": org.slug, "number": 1})
    patched = client.patch(detail, {"title": f"{RLO}Printer"}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["title"] == "Printer"
    assert Incident.objects.for_org(org).get().title == "Printer"

    blank = client.post(incidents, {"title": CONTROLS}, format="json")
    assert blank.status_code == 400
    assert "title" in blank.json()


def test_the_api_names_of_services_and_teams(api_client_for, api_key_for, org):
    client = api_client_for(api_key_for(Role.ADMIN))
    services_url = reverse("service-list", kwargs={"org": org.slug})
    teams_url = reverse("team-list", kwargs={"org": org.slug})
    service = client.post(services_url, {"slug": "db", "name": f"{RLO}Databases"}, format="json")
    team = client.post(teams_url, {"slug": "dba", "name": f"DBA{RLO}s"}, format="json")
    assert (service.status_code, team.status_code) == (201, 201), (service.json(), team.json())
    assert Service.objects.for_org(org).get(slug="db").name == "Databases"
    assert Team.objects.for_org(org).get(slug="dba").name == "DBAs"


def test_alerts_open_incidents_without_controls(client, org):
    with rls.tenant_context(org.pk):
        service = services.service_create(organization=org, actor=None, slug="db", name="DB")
        integration = alert_services.integration_create(
            organization=org,
            actor=None,
            service=service,
            kind=Integration.Kind.PAGERDUTY,
            name="PagerDuty",
        )
    event = {
        "routing_key": integration.key,
        "event_action": "trigger",
        "payload": {"summary": SPOOFED, "source": "db-1", "severity": "critical"},
    }
    response = client.post("/v2/enqueue", json.dumps(event), content_type="application/json")
    assert response.status_code == 202, response.content
    with rls.tenant_context(org.pk):
        assert Incident.objects.for_org(org).get().title == CLEAN
        assert Alert.objects.for_org(org).get().summary == CLEAN


def test_the_admin_strips_names(client_for, member, org):
    client = client_for(member(Role.ADMIN))
    response = client.post(
        reverse("admin:tenancy_team_add"),
        {
            "organization": org.pk,
            "slug": "db",
            "name": f"Data{RLO}bases",
            "description": "",
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    assert Team.objects.for_org(org).get(slug="db").name == "Databases"


def test_attachment_names_cannot_hide_their_extension(member, org, settings, tmp_path):
    """Django's multipart parser drops them from uploaded names already; any other caller
    of the service (a script, a future import) is covered by the model field."""
    settings.MEDIA_ROOT = tmp_path
    responder = member(Role.RESPONDER)
    incident = services.incident_create(organization=org, actor=responder, title="Printer")
    upload = SimpleUploadedFile(f"invoice{RLO}gnp.txt", b"hello\n")  # shows "invoicetxt.png"
    attachment = services.attachment_add(
        organization=org, actor=responder, incident=incident, upload=upload
    )
    assert attachment.original_name == "invoicegnp.txt"
    assert Attachment.objects.for_org(org).get().original_name == "invoicegnp.txt"


def test_orm_writes_strip_them_too(org):
    incident = services.incident_create(organization=org, actor=None, title=SPOOFED)
    assert incident.title == CLEAN
    Incident.objects.for_org(org).filter(pk=incident.pk).update(title=f"{RLO}Updated")
    incident.refresh_from_db()
    assert incident.title == "Updated"
    incident.title = f"Saved{RLO}"
    incident.save(update_fields=["title"])
    incident.refresh_from_db()
    assert incident.title == "Saved"
