"""Health and metrics: tenant-agnostic, unauthenticated unless METRICS_TOKEN is set.

Under gunicorn (``gunicorn.conf.py``) prometheus_client runs in multiprocess mode: every
worker writes its metrics to files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums the
files of all workers, so whichever worker answers, the counters are the whole server's and
never go backwards. Without that directory (``runserver``, tests) the process's own
registry is served.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from core import metrics as gauges
from core.models import Heartbeat


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    from celery import current_app

    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _worker_heartbeat_age() -> float | None:
    beat = Heartbeat.objects.filter(name="worker").first()
    return None if beat is None else (timezone.now() - beat.beat_at).total_seconds()


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the broker answer, 503 otherwise. Worker age is informative."""
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception as exc:  # any failure is the answer here, never a 500
            checks[name] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "error", "checks": checks}
    if checks["database"] == "ok":
        age = _worker_heartbeat_age()
        body["worker_heartbeat_age_seconds"] = None if age is None else round(age, 1)
    return JsonResponse(body, status=200 if healthy else 503)


class BeaconCollector:
    """Beacon's own gauges, read from the database at scrape time (never at import).

    They are the same whichever process computes them, so in multiprocess mode they are
    collected by the scraped worker once, not written to the per-worker files (where a
    gauge would need a mode to combine the workers' values).
    """

    @staticmethod
    def _heartbeat_family():
        return GaugeMetricFamily(
            "beacon_worker_heartbeat_age_seconds",
            "Seconds since the periodic heartbeat last ran on a worker (absent: never).",
        )

    def describe(self):
        yield self._heartbeat_family()

    def collect(self):
        age = self._heartbeat_family()
        try:
            value = _worker_heartbeat_age()
        except Exception:  # the scrape must not fail with the database
            value = None
        if value is not None:
            age.add_metric([], value)
        yield age


gauges.register_collector(BeaconCollector())


def _registry() -> CollectorRegistry:
    """All workers' metrics in multiprocess mode, this process's otherwise."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    for collector in gauges.COLLECTORS:
        registry.register(collector)
    return registry


@never_cache
@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
