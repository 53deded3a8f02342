"""The incident page's panels (the ``"incident"`` slot of :mod:`core.panels`).

``incidents`` imports no higher app, so what another app shows on the incident page (a
post-incident review, the alerts behind it, …) is registered from that app's
``AppConfig.ready`` with :func:`register_incident_panel`: a template and a function of
the request and the incident that returns the template's context, or None.
"""

from __future__ import annotations

from django.http import HttpRequest

from core import panels
from core.panels import Panel
from incidents.models import Incident
from incidents.selectors import incidents_visible
from tenancy.models import Role

__all__ = ["Panel", "home_card", "incident_panels", "register_incident_panel"]


def register_incident_panel(template_name: str, context_function, *, order: int = 50) -> None:
    """Adds a panel to the incident page, below its details, lower ``order`` first."""
    panels.register(panels.INCIDENT, template_name, context_function, order=order)


def incident_panels(request: HttpRequest, incident: Incident) -> list[Panel]:
    """The panels this request shows for the incident."""
    return panels.collect(panels.INCIDENT, request, incident)


def home_card(request) -> dict:
    """The home page's incidents card: open incidents (for roles that see them all) and
    the reader's own open reports."""
    organization, user, role = request.organization, request.user, request.role
    open_incidents = incidents_visible(organization=organization, user=user, role=role).open()
    return {
        "sees_all": role != Role.REPORTER,
        "open_count": open_incidents.count() if role != Role.REPORTER else None,
        "mine_open_count": open_incidents.filter(reporter_id=user.pk).count(),
        "can_report": user.has_perm("incidents.add_incident", organization),
    }
