"""A deactivated organization accepts nothing and nobody works in it: every entry point.

Alert ingestion is covered per endpoint in tests/alerts/test_rules.py and the alert sweep
in tests/alerts/test_apply.py; API keys in tests/tenancy/test_roles_and_keys.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from incidents import services, tasks
from incidents.models import Incident
from incidents.states import Status
from tenancy.models import Role

pytestmark = pytest.mark.django_db


def deactivate(org):
    org.is_active = False
    org.save()


@pytest.fixture
def incident(org, member):
    reporter = member(Role.REPORTER, username="rita")
    return services.incident_create(organization=org, actor=reporter, reporter=reporter, title="x")


@pytest.mark.parametrize("role", [Role.OWNER, Role.RESPONDER, Role.REPORTER])
def test_portal_pages_answer_404(client_for, member, org, role):
    user = member(role)
    incident = services.incident_create(organization=org, actor=user, reporter=user, title="x")
    client = client_for(user)
    urls = [
        reverse("portal:home", kwargs={"org": org.slug}),
        reverse("incidents:new", kwargs={"org": org.slug}),
        reverse("incidents:detail", kwargs={"org": org.slug, "number": incident.number}),
    ]
    assert all(client.get(url).status_code != 404 for url in urls)
    deactivate(org)
    for url in urls:
        assert client.get(url).status_code == 404, url
    response = client.post(
        reverse("incidents:new", kwargs={"org": org.slug}),
        {"title": "Printer", "impact": 3, "urgency": 3},
    )
    assert response.status_code == 404
    assert Incident.objects.for_org(org).count() == 1


def test_its_admins_lose_the_admin(client_for, member, org):
    client = client_for(member(Role.OWNER))
    assert client.get(reverse("admin:index")).status_code == 200
    deactivate(org)
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_closure_link_stops_working(client, org, incident):
    resolved = services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED, resolution="ok"
    )
    link = services.closure_link(resolved)
    deactivate(org)
    assert client.post(link, {"action": "confirm"}).status_code in (400, 404, 410)
    assert Incident.objects.for_org(org).get(pk=incident.pk).status == Status.RESOLVED


def test_periodic_incident_work_skips_it(org, incident):
    services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED, resolution="ok"
    )
    deactivate(org)
    with time_machine.travel(timezone.now() + timedelta(days=30), tick=False):
        assert tasks.auto_close() == []
        assert tasks.sla_check() == []
    assert Incident.objects.for_org(org).get(pk=incident.pk).status == Status.RESOLVED
