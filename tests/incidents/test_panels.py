"""Panels other apps add to the incident page, without ``incidents`` importing them."""

import pytest
from django.test import RequestFactory

from core import panels as core_panels
from incidents import panels, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(core_panels, "_slots", {})
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


def test_panels_show_in_their_order_then_in_the_order_registered(org, registry):
    incident = services.incident_create(organization=org, actor=None, title="Down")
    registry.register_incident_panel("late.html", lambda request, incident: {}, order=90)
    registry.register_incident_panel("b.html", lambda request, incident: {})
    registry.register_incident_panel("a.html", lambda request, incident: {})
    registry.register_incident_panel("early.html", lambda request, incident: {}, order=10)
    shown = registry.incident_panels(RequestFactory().get("/"), incident)
    assert [panel.template_name for panel in shown] == [
        "early.html",
        "b.html",
        "a.html",
        "late.html",
    ]
