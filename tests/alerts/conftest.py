"""Fixtures for the alert-ingestion tests: integrations, Beacon over TLS, real clients.

- ``integration(kind, organization=org, service=None, **fields)`` -> a new Integration of
  that kind on a new service (or the one given), in the organization "acme" by default.
- ``beacon_tls`` -> Beacon itself served over HTTPS from background threads (a
  :class:`tests.alerts.tls.TLSServer`: ``.url``, ``.ca_path``). It needs the rows to be
  visible to other connections, so it brings ``transactional_db`` along.
- ``pagerduty_client(routing_key)`` and ``opsgenie_alert_api(genie_key)`` -> the real
  client libraries pointed at ``beacon_tls``, trusting its CA and failing fast (no retry
  sleeps), so a test that goes wrong fails in seconds instead of retrying for minutes.
- ``in_tenant(organization)`` -> a context manager for reading an organization's rows
  (PostgreSQL row-level security hides them otherwise; a no-op on SQLite).
"""

from __future__ import annotations

import itertools

import opsgenie_sdk
import pagerduty
import pytest
from django.core.wsgi import get_wsgi_application

from alerts.models import Integration
from incidents import services as incident_services
from tenancy import rls
from tests.alerts.tls import serve_tls

_counter = itertools.count(1)


@pytest.fixture
def in_tenant():
    """in_tenant(organization) -> a transaction that may read that organization's rows."""

    def enter(organization):
        return rls.tenant_context(organization.pk)

    return enter


@pytest.fixture
def integration(org):
    """integration(kind="pagerduty", organization=org, service=None, **fields)."""

    def make(kind: str = Integration.Kind.PAGERDUTY, organization=None, service=None, **fields):
        organization = organization or org
        number = next(_counter)
        with rls.tenant_context(organization.pk):
            if service is None:
                service = incident_services.service_create(
                    organization=organization,
                    actor=None,
                    slug=f"service-{number}",
                    name=f"Service {number}",
                )
            fields.setdefault("name", f"{kind} {number}")
            return Integration.objects.create(
                organization=organization, service=service, kind=kind, **fields
            )

    return make


@pytest.fixture
def beacon_tls(transactional_db):
    """Beacon over HTTPS on 127.0.0.1 (see tests/alerts/tls.py)."""
    with serve_tls(get_wsgi_application()) as server:
        yield server


@pytest.fixture
def pagerduty_client(beacon_tls):
    """pagerduty_client(routing_key) -> pagerduty.EventsApiV2Client talking to Beacon."""

    def make(routing_key: str) -> pagerduty.EventsApiV2Client:
        client = pagerduty.EventsApiV2Client(
            routing_key, base_url=beacon_tls.url, verify=beacon_tls.client_ssl_context()
        )
        # Defaults retry 429 forever and 5xx several times with sleeps of 3 s and more.
        client.retry = {429: 1, 500: 1, 502: 1, 503: 1, 504: 1}
        client.max_http_attempts = -1
        client.max_network_attempts = 0
        return client

    return make


@pytest.fixture
def opsgenie_alert_api(beacon_tls):
    """opsgenie_alert_api(genie_key) -> opsgenie_sdk.AlertApi talking to Beacon.

    Errors arrive wrapped in tenacity.RetryError even with retries off:
    ``excinfo.value.last_attempt.exception()`` is the ApiException."""

    def make(genie_key: str) -> opsgenie_sdk.AlertApi:
        configuration = opsgenie_sdk.Configuration()
        configuration.host = beacon_tls.url
        # A new dict: Configuration() copies a shared default shallowly.
        configuration.api_key = {"Authorization": genie_key}
        configuration.ssl_ca_cert = beacon_tls.ca_path
        configuration.retry_enabled = False
        return opsgenie_sdk.AlertApi(opsgenie_sdk.ApiClient(configuration))

    return make
