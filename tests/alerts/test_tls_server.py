"""The TLS test server: Beacon and real alerting clients talk to it with verification on.

The stub apps here only prove the plumbing (paths, headers, bodies, TLS trust); the
alert-ingestion tests against Beacon itself live beside this file.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import opsgenie_sdk
import pagerduty
import pytest
import tenacity
from django.core.wsgi import get_wsgi_application

from tests.alerts.tls import serve_tls


class StubApp:
    """A WSGI app that records each request and answers every one with `status` and `body`."""

    def __init__(self, status: str, body: dict) -> None:
        self.status = status
        self.body = json.dumps(body).encode()
        self.requests: list[dict] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        self.requests.append(
            {
                "method": environ["REQUEST_METHOD"],
                "path": environ["PATH_INFO"],
                "query": environ.get("QUERY_STRING", ""),
                "scheme": environ["wsgi.url_scheme"],
                "content_type": environ.get("CONTENT_TYPE", ""),
                "authorization": environ.get("HTTP_AUTHORIZATION"),
                "json": json.loads(raw) if raw else None,
            }
        )
        start_response(
            self.status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))],
        )
        return [self.body]


def _get(url: str, context: ssl.SSLContext) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:  # /healthz answers 503 when the broker is down
        return error.code, json.loads(error.read())


def test_beacon_answers_over_tls_from_the_servers_own_thread(transactional_db):
    with serve_tls(get_wsgi_application()) as server:
        assert server.url == f"https://127.0.0.1:{server.port}"
        status, body = _get(f"{server.url}/healthz", server.client_ssl_context())

    assert status in (200, 503)
    assert body["checks"]["database"] == "ok"  # the request thread used its own connection


def test_a_client_that_does_not_trust_the_ca_is_refused():
    app = StubApp("200 OK", {})
    with serve_tls(app) as server, pytest.raises(urllib.error.URLError) as excinfo:
        _get(f"{server.url}/", ssl.create_default_context())  # the system's CAs only

    assert isinstance(excinfo.value.reason, ssl.SSLCertVerificationError)
    assert app.requests == []


class TestPagerDutyEventsApiV2Client:
    ACCEPTED = {"status": "success", "message": "Event processed", "dedup_key": "x"}

    def test_trusts_the_ca_through_ssl_cert_file(self, monkeypatch):
        app = StubApp("202 Accepted", self.ACCEPTED)
        with serve_tls(app) as server:
            # httpx2 reads SSL_CERT_FILE when the client is built, not per request.
            monkeypatch.setenv("SSL_CERT_FILE", server.ca_path)
            client = pagerduty.EventsApiV2Client("routing-key-1", base_url=server.url)
            assert client.trigger("Disk full", "db-1", dedup_key="x", severity="error") == "x"
            assert client.acknowledge("x") == "x"
            assert client.resolve("x") == "x"
            client.send_change_event(payload={"summary": "Deployed 1.2.3", "source": "ci"})

        assert [(r["method"], r["path"], r["scheme"]) for r in app.requests] == [
            ("POST", "/v2/enqueue", "https"),
            ("POST", "/v2/enqueue", "https"),
            ("POST", "/v2/enqueue", "https"),
            ("POST", "/v2/change/enqueue", "https"),
        ]
        assert {r["content_type"] for r in app.requests} == {"application/json"}
        assert {r["authorization"] for r in app.requests} == {None}  # the key is in the body
        assert [r["json"] for r in app.requests] == [
            {
                "event_action": "trigger",
                "payload": {"summary": "Disk full", "source": "db-1", "severity": "error"},
                "dedup_key": "x",
                "routing_key": "routing-key-1",
            },
            {"event_action": "acknowledge", "dedup_key": "x", "routing_key": "routing-key-1"},
            {"event_action": "resolve", "dedup_key": "x", "routing_key": "routing-key-1"},
            {
                "payload": {"summary": "Deployed 1.2.3", "source": "ci"},
                "routing_key": "routing-key-1",
            },
        ]

    def test_trusts_the_ca_through_a_verify_context(self):
        app = StubApp("202 Accepted", self.ACCEPTED)
        with serve_tls(app) as server:
            client = pagerduty.EventsApiV2Client(
                "routing-key-1", base_url=server.url, verify=server.client_ssl_context()
            )
            assert client.trigger("Disk full", "db-1") == "x"

        assert "dedup_key" not in app.requests[0]["json"]  # the server picks one

    def test_refuses_an_untrusted_server_without_retrying(self):
        app = StubApp("202 Accepted", self.ACCEPTED)
        with serve_tls(app) as server:
            client = pagerduty.EventsApiV2Client("routing-key-1", base_url=server.url)
            client.max_network_attempts = 0  # default 3, sleeping 3 s, 6 s, 12 s between
            with pytest.raises(pagerduty.Error, match="Non-transient network error") as excinfo:
                client.trigger("Disk full", "db-1")

        assert "CERTIFICATE_VERIFY_FAILED" in str(excinfo.value.__cause__)  # httpx2.ConnectError
        assert app.requests == []

    def test_error_statuses_fail_fast_when_retries_are_capped(self):
        app = StubApp("503 Service Unavailable", {"status": "unavailable"})
        with serve_tls(app) as server:
            client = pagerduty.EventsApiV2Client(
                "routing-key-1", base_url=server.url, verify=server.client_ssl_context()
            )
            # Default: 429 retried without limit, 500/502/503/504 2/4/6/6 times, sleeping
            # 3 s, 6 s, 12 s... A status with a positive count and max_http_attempts=-1
            # returns at once.
            client.retry = {429: 1, 500: 1, 502: 1, 503: 1, 504: 1}
            client.max_http_attempts = -1
            with pytest.raises(pagerduty.ServerHttpError):
                client.trigger("Disk full", "db-1")

        assert len(app.requests) == 1


class TestOpsgenieAlertApi:
    ACCEPTED = {"result": "Request will be processed", "took": 0.1, "requestId": "req-1"}

    @staticmethod
    def alert_api(server, *, trust: bool = True) -> opsgenie_sdk.AlertApi:
        configuration = opsgenie_sdk.Configuration()
        configuration.host = server.url
        # A new dict: Configuration() copies a shared default shallowly, so mutating its
        # api_key dict in place would leak the key into every later Configuration().
        configuration.api_key = {"Authorization": "genie-key-1"}
        if trust:
            configuration.ssl_ca_cert = server.ca_path  # otherwise certifi's bundle
        configuration.retry_enabled = False  # default: 6 attempts, random waits up to 30 s
        return opsgenie_sdk.AlertApi(opsgenie_sdk.ApiClient(configuration))

    def test_create_acknowledge_and_close_by_alias(self):
        app = StubApp("202 Accepted", self.ACCEPTED)
        with serve_tls(app) as server:
            api = self.alert_api(server)
            created = api.create_alert(
                opsgenie_sdk.CreateAlertPayload(
                    message="Disk full", alias="db-1-disk", priority="P2", tags=["db"]
                )
            )
            acknowledged = api.acknowledge_alert(
                identifier="db-1-disk",
                identifier_type="alias",
                acknowledge_alert_payload=opsgenie_sdk.AcknowledgeAlertPayload(note="Looking"),
            )
            closed = api.close_alert(identifier="db-1-disk", identifier_type="alias")

        for response in (created, acknowledged, closed):
            assert isinstance(response, opsgenie_sdk.SuccessResponse)
            assert response.request_id == "req-1"
            assert response.result == "Request will be processed"
        assert created.url == f"{server.url}/v2/alerts"
        assert [(r["method"], r["path"], r["query"]) for r in app.requests] == [
            ("POST", "/v2/alerts", ""),
            ("POST", "/v2/alerts/db-1-disk/acknowledge", "identifierType=alias"),
            ("POST", "/v2/alerts/db-1-disk/close", "identifierType=alias"),
        ]
        assert {r["authorization"] for r in app.requests} == {"GenieKey genie-key-1"}
        assert {r["content_type"] for r in app.requests} == {"application/json"}
        assert [r["json"] for r in app.requests] == [
            {"message": "Disk full", "alias": "db-1-disk", "tags": ["db"], "priority": "P2"},
            {"note": "Looking"},
            None,  # no payload: an empty body, still labelled application/json
        ]

    def test_refuses_an_untrusted_server(self):
        app = StubApp("202 Accepted", self.ACCEPTED)
        with serve_tls(app) as server:
            api = self.alert_api(server, trust=False)
            # Even with retries off, the SDK's errors arrive wrapped by tenacity.
            with pytest.raises(tenacity.RetryError) as excinfo:
                api.create_alert(opsgenie_sdk.CreateAlertPayload(message="Disk full"))

        error = excinfo.value.last_attempt.exception()
        assert isinstance(error, opsgenie_sdk.ApiException)
        assert error.status == 0
        assert "CERTIFICATE_VERIFY_FAILED" in error.reason
        assert app.requests == []
