"""Panels that apps above ``incidents`` add to the incident page.

``incidents`` imports no higher app, so what another app shows on the incident page (a
post-incident review, …) is registered from that app's ``AppConfig.ready``: a template and
a function of the request and the incident that returns the template's context, or None
when this reader has nothing to see there. The page includes each panel's template with
its context as ``panel``, in the order the panels were registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from incidents.models import Incident

ContextFunction = Callable[[HttpRequest, Incident], dict | None]


@dataclass(frozen=True)
class Panel:
    template_name: str
    context: dict


_registered: dict[str, ContextFunction] = {}


def register_incident_panel(template_name: str, context_function: ContextFunction) -> None:
    """Adds a panel to the incident page; registering the same template again replaces it."""
    _registered[template_name] = context_function


def incident_panels(request: HttpRequest, incident: Incident) -> list[Panel]:
    """The panels this request shows for the incident."""
    panels = []
    for template_name, context_function in _registered.items():
        context = context_function(request, incident)
        if context is not None:
            panels.append(Panel(template_name, context))
    return panels
