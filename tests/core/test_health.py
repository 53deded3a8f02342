"""/healthz and /metrics: tenant-agnostic, unauthenticated unless METRICS_TOKEN is set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST

from config.celery import app as celery_app
from core.models import Heartbeat

pytestmark = pytest.mark.django_db

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def unreachable_broker(monkeypatch):
    """Point the Celery app at a port nothing listens on; restored after the test.

    Celery reads CELERY_BROKER_URL / CELERY_BROKER_WRITE_URL from the environment before
    its configuration, so both are overridden.
    """
    monkeypatch.setenv("CELERY_BROKER_URL", UNREACHABLE_BROKER)
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    monkeypatch.setitem(celery_app.conf, "broker_url", UNREACHABLE_BROKER)
    monkeypatch.setitem(celery_app.conf, "broker_write_url", UNREACHABLE_BROKER)
    # Fail fast: no retry pauses, a short connect timeout.
    monkeypatch.setitem(celery_app.conf, "broker_connection_timeout", 1)
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})
    return UNREACHABLE_BROKER


@pytest.fixture
def worker_heartbeat():
    return Heartbeat.objects.create(name="worker", beat_at=timezone.now() - timedelta(seconds=42))


class TestHealthz:
    def test_ok_when_database_and_broker_answer(self, client):
        response = client.get("/healthz")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert body["status"] == "ok"
        assert body["checks"] == {"database": "ok", "broker": "ok"}
        # No heartbeat yet: the key is present and says "never".
        assert body["worker_heartbeat_age_seconds"] is None

    def test_is_not_cached(self, client):
        response = client.get("/healthz")

        assert "no-cache" in response["Cache-Control"]

    def test_503_when_the_broker_is_unreachable(self, client, unreachable_broker):
        response = client.get("/healthz")

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "error"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"].startswith("error: ")
        # The exception class is reported, not its message (no URL or credentials leak).
        assert unreachable_broker not in response.content.decode()

    def test_503_when_the_database_fails(self, client, monkeypatch):
        def broken():
            raise RuntimeError("database down")

        monkeypatch.setattr("core.views._check_database", broken)

        response = client.get("/healthz")

        assert response.status_code == 503
        body = response.json()
        assert body["checks"]["database"] == "error: RuntimeError"
        assert "worker_heartbeat_age_seconds" not in body

    def test_reports_the_worker_heartbeat_age(self, client, worker_heartbeat):
        body = client.get("/healthz").json()

        assert body["worker_heartbeat_age_seconds"] == pytest.approx(42, abs=5)

    def test_only_get(self, client):
        assert client.post("/healthz").status_code == 405


class TestMetrics:
    def test_prometheus_text(self, client):
        client.get("/healthz")  # at least one request went through the middleware

        response = client.get("/metrics")

        assert response.status_code == 200
        content_type = response["Content-Type"]
        assert content_type == CONTENT_TYPE_LATEST
        assert content_type.startswith("text/plain; version=")
        text = response.content.decode()
        assert "# TYPE django_http_requests_before_middlewares_total counter" in text
        assert 'django_http_requests_total_by_method_total{method="GET"}' in text
        assert 'django_http_responses_total_by_status_total{status="200"}' in text

    def test_heartbeat_gauge_absent_before_the_first_beat(self, client):
        text = client.get("/metrics").content.decode()

        assert "# TYPE beacon_worker_heartbeat_age_seconds gauge" in text
        assert "\nbeacon_worker_heartbeat_age_seconds " not in text

    def test_heartbeat_gauge(self, client, worker_heartbeat):
        text = client.get("/metrics").content.decode()

        lines = [
            line
            for line in text.splitlines()
            if line.startswith("beacon_worker_heartbeat_age_seconds ")
        ]
        assert len(lines) == 1, text
        assert float(lines[0].split()[1]) == pytest.approx(42, abs=5)

    def test_open_without_a_token(self, client, settings):
        settings.METRICS_TOKEN = ""

        assert client.get("/metrics").status_code == 200

    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            "",
            "Bearer",
            "Bearer wrong-token",
            "Bearer s3cret-metrics-token-and-more",
            "Basic s3cret-metrics-token",
            "s3cret-metrics-token",
        ],
    )
    def test_token_required(self, client, settings, authorization):
        settings.METRICS_TOKEN = "s3cret-metrics-token"
        headers = {} if authorization is None else {"Authorization": authorization}

        response = client.get("/metrics", headers=headers)

        assert response.status_code == 401
        assert b"django_http" not in response.content

    def test_correct_token(self, client, settings):
        settings.METRICS_TOKEN = "s3cret-metrics-token"

        response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})

        assert response.status_code == 200
        assert "django_http_requests" in response.content.decode()
