"""The kinds of integration, one module each, and the registry the rest of alerts asks.

A kind's module holds everything particular to its tool: parsing its requests, the
answers the tool expects, its routes and the setup shown to admins. Adding a kind is a
module, an ``Integration.Kind`` value and a line below.
"""

from __future__ import annotations

from django.urls import reverse

from alerts.kinds import alertmanager, generic, opsgenie, pagerduty
from alerts.kinds.base import IntegrationKind
from alerts.models import Integration

KINDS: dict[str, IntegrationKind] = {
    module.KIND.kind: module.KIND for module in (pagerduty, alertmanager, opsgenie, generic)
}


def of(integration: Integration) -> IntegrationKind:
    return KINDS[integration.kind]


def ingestion_path(integration: Integration) -> str:
    """The path the integration's tool sends its events to."""
    kind = of(integration)
    return reverse(kind.route, kwargs={"key": integration.key} if kind.key_in_url else None)


def how_to_send(integration: Integration) -> str:
    """``POST <path>`` and, when the key is not in the path, the key as the tool sends it."""
    kind = of(integration)
    parts = ["POST", ingestion_path(integration)]
    if kind.credential is not None:
        parts.append(kind.credential(integration.key))
    return " ".join(parts)


urlpatterns = [pattern for kind in KINDS.values() for pattern in kind.urlpatterns]
