"""Panels other apps add to the incident page, without ``incidents`` importing them."""

import pytest
from django.test import RequestFactory

from incidents import panels, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(panels, "_registered", {})
    return panels


def test_a_panel_shows_when_its_function_gives_a_context(org, registry):
    incident = services.incident_create(organization=org, actor=None, title="Down")
    registry.register_incident_panel("a.html", lambda request, incident: {"n": incident.number})
    registry.register_incident_panel("b.html", lambda request, incident: None)
    shown = registry.incident_panels(RequestFactory().get("/"), incident)
    assert shown == [panels.Panel("a.html", {"n": incident.number})]


def test_registering_a_template_again_replaces_its_panel(org, registry):
    incident = services.incident_create(organization=org, actor=None, title="Down")
    registry.register_incident_panel("a.html", lambda request, incident: {"n": 1})
    registry.register_incident_panel("a.html", lambda request, incident: {"n": 2})
    shown = registry.incident_panels(RequestFactory().get("/"), incident)
    assert shown == [panels.Panel("a.html", {"n": 2})]
