"""Every kind of integration has its module in the registry, with a route to send to."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts import kinds
from alerts.models import Integration


def test_every_kind_is_registered_once():
    assert sorted(kinds.KINDS) == sorted(Integration.Kind.values)
    assert all(kind.kind == name for name, kind in kinds.KINDS.items())


@pytest.mark.parametrize("kind", Integration.Kind.values)
def test_every_kind_routes_its_events_and_shows_how(kind):
    integration = Integration(kind=kind, key="0123456789abcdef0123456789abcdef")
    path = kinds.ingestion_path(integration)
    entry = kinds.of(integration)
    assert path == reverse(
        entry.route, kwargs={"key": integration.key} if entry.key_in_url else None
    )
    assert (integration.key in path) == entry.key_in_url
    assert kinds.how_to_send(integration).startswith(f"POST {path}")
    assert set(entry.example_bodies(integration)) <= {
        pattern.name for pattern in entry.urlpatterns if pattern.name
    }
