"""/metrics under gunicorn with several workers: a scrape sums every worker, so counters
are the whole server's whichever worker answers and never go backwards."""

from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from core.models import Heartbeat
from tests.servers import REQUEST_TIMEOUT, gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TOKEN = "s3cret-metrics-token"
VIEW_REQUESTS = "django_http_requests_total_by_view_transport_method_total"
ALL_REQUESTS = "django_http_requests_before_middlewares_total"


def _get(url: str, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _value(text: str, sample_name: str, **labels: str) -> float:
    """The sum of the samples of that name whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    )


def _health_checks_per_worker(directory) -> dict[int, float]:
    """GET /healthz answered by each worker, read from its own metrics file."""
    served = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.split("_")[-1])
        served[pid] = sum(
            sample.value
            for metric in MultiProcessCollector.merge([str(path)], accumulate=False)
            for sample in metric.samples
            if sample.name == VIEW_REQUESTS
            and sample.labels.get("view") == "healthz"
            and sample.labels.get("method") == "GET"
        )
    return served


def test_a_scrape_sums_every_worker_and_never_goes_backwards(tmp_path):
    Heartbeat.objects.create(name="worker", beat_at=timezone.now() - timedelta(seconds=42))
    metrics_dir = tmp_path / "metrics"
    (metrics_dir).mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from a previous run")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "METRICS_TOKEN": TOKEN}

    with gunicorn(workers=2, env=env) as server:
        base, output = server.base, server.output
        assert not (metrics_dir / "counter_999999.db").exists(), "not emptied at start"
        # The checks that the server is up: one or more, whichever worker answered them.
        sent = sum(_health_checks_per_worker(metrics_dir).values())
        assert sent >= 1
        with ThreadPoolExecutor(max_workers=4) as pool:
            # Concurrent requests spread over both workers; send until each served some.
            for _ in range(10):
                statuses = list(pool.map(lambda _: _get(f"{base}/healthz")[0], range(20)))
                assert statuses == [200] * 20, output()
                sent += 20
                served = _health_checks_per_worker(metrics_dir)
                if len(served) == 2 and all(served.values()):
                    break
        assert len(served) == 2, served
        assert all(served.values()), f"one worker served nothing: {served}"
        assert sum(served.values()) == sent

        assert _get(f"{base}/metrics", token=None)[0] == 401
        assert _get(f"{base}/metrics", token="wrong")[0] == 401
        totals = []
        for _ in range(12):
            status, text = _get(f"{base}/metrics")
            assert status == 200, output()
            assert _value(text, VIEW_REQUESTS, view="healthz", method="GET") == sent
            totals.append(_value(text, ALL_REQUESTS))
            heartbeat = [
                line
                for line in text.splitlines()
                if line.startswith("beacon_worker_heartbeat_age_seconds")
            ]
            assert len(heartbeat) == 1, heartbeat
            assert float(heartbeat[0].split()[-1]) == pytest.approx(42, abs=30)
            # Apps' database gauges reach the multiprocess scrape too (core.metrics).
            assert "# TYPE beacon_oncall_escalation_lag_seconds gauge" in text
        # Each scrape counts itself: the whole server's total only ever grows.
        assert totals == sorted(totals)
        assert len(set(totals)) == len(totals), totals
