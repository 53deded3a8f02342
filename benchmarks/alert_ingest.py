"""Alert ingestion under a burst, end to end, against gunicorn on PostgreSQL.

    DATABASE_URL=postgres://… python -m benchmarks.alert_ingest \
        [--alerts 2000] [--clients 8] [--per-request 1] [--workers N] [--threads 1]

What it does, in order:

1. Refuses to run without PostgreSQL; applies migrations if any are missing.
2. Creates a fresh organization, service and Alertmanager integration (and a second one for
   the warm-up) with a rate limit far above the burst, and the ``bench_row`` table of the
   baseline. Nothing is deleted afterwards: every run has its own organization.
3. Starts ``gunicorn config.wsgi`` (``DJANGO_SETTINGS_MODULE=benchmarks.settings``,
   ``DEBUG=0``, no access log) on a free loopback port and waits for ``/healthz``.
4. Warms up every worker, then sends, from ``--clients`` processes with keep-alive
   connections released together:
   a. the baseline: as many requests to ``bench/bare/`` (one INSERT) as the burst has;
   b. the burst: ``--alerts`` alerts as Alertmanager v4 notifications of ``--per-request``
      alerts each, every notification a distinct group, so a distinct incident.
5. Checks in PostgreSQL that every alert is stored once, on its group's incident, with
   exactly one incident per group, and computes accept-to-incident per alert as the
   incident's ``created_at`` minus the moment its request was sent (one machine, one clock).
6. Prints throughput, latency percentiles and the checks; stops gunicorn. Exits 1 when a
   check fails (the numbers are the report, not a pass/fail gate).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks import database
from benchmarks.database import BASE_DIR, SETTINGS

RECEIVER = "beacon-bench"
BARE_PATH = "/bench/bare/"


# --- payloads ------------------------------------------------------------------------------


def notification(run: str, group: int, per_request: int, starts_at: str) -> dict:
    """An Alertmanager v4 notification: one distinct group of ``per_request`` firing alerts."""
    group_labels = {"alertname": "BenchBurst", "run": run, "group": str(group)}
    alerts = [
        {
            "status": "firing",
            "labels": {**group_labels, "instance": f"host-{group}-{n}:9100", "severity": "error"},
            "annotations": {"summary": f"Burst alert {group}.{n}", "runbook_url": "https://x.test"},
            "startsAt": starts_at,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.test/graph?g0.expr=up",
            "fingerprint": f"{run}{group:06d}{n:04d}",
        }
        for n in range(per_request)
    ]
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="BenchBurst", group="{group}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": RECEIVER,
        "groupLabels": group_labels,
        "commonLabels": {**group_labels, "severity": "error"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.test",
        "alerts": alerts,
    }


# --- the clients ---------------------------------------------------------------------------


@dataclass
class Sample:
    index: int
    sent_wall: float  # time.time() just before the request was written
    sent: float  # time.monotonic(), same instant
    received: float  # time.monotonic() once the whole response was read
    status: int
    body: bytes


def _client(port: int, jobs, barrier, out, client_id: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
    samples = []
    barrier.wait()
    for index, path, body in jobs:
        sent_wall, sent = time.time(), time.monotonic()
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            answer, status = response.read(), response.status
        except (OSError, http.client.HTTPException) as exc:
            connection.close()  # the next request reconnects
            answer, status = repr(exc).encode(), 0
        samples.append(Sample(index, sent_wall, sent, time.monotonic(), status, answer))
    connection.close()
    out.put((client_id, samples))


def fire(port: int, requests: list[tuple[str, bytes]], clients: int) -> list[Sample]:
    """Sends the requests from ``clients`` processes (request i from client i % clients),
    all released at once; returns one sample per request, in request order."""
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(clients + 1), context.Queue()
    shares = [[] for _ in range(clients)]
    for index, (path, body) in enumerate(requests):
        shares[index % clients].append((index, path, body))
    processes = [
        context.Process(target=_client, args=(port, shares[n], barrier, out, n), daemon=True)
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    samples = []
    for _ in processes:
        samples.extend(out.get(timeout=900)[1])
    for process in processes:
        process.join()
    return sorted(samples, key=lambda sample: sample.index)


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "DEBUG": "0", "LOG_LEVEL": "WARNING"}
    command = [
        *(sys.executable, "-m", "gunicorn", "config.wsgi"),
        *("--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
        *("--worker-class", "gthread" if threads > 1 else "sync", "--threads", str(threads)),
        *("--log-level", "warning", "--error-logfile", "-", "--timeout", "120"),
    ]
    log = log_path.open("wb")
    return subprocess.Popen(  # noqa: S603  (our own interpreter, fixed arguments)
        command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_healthy(server: subprocess.Popen, port: int, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            body = json.loads(connection.getresponse().read() or b"{}")
            connection.close()
            if body.get("checks", {}).get("database") == "ok":
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.2)
    sys.exit(f"gunicorn did not answer /healthz in {timeout:.0f}s:\n{log_path.read_text()[-3000:]}")


# --- the database --------------------------------------------------------------------------


def setup_django() -> None:
    database.setup_django()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_row "
            "(id bigserial primary key, body jsonb, created_at timestamptz default now())"
        )


def create_tenant(run: str):
    """A fresh organization, service and two Alertmanager integrations (burst, warm-up)."""
    from alerts.models import Integration
    from incidents.services import service_create
    from tenancy import rls
    from tenancy.services import organization_create

    organization = organization_create(slug=f"bench-{run}", name=f"Benchmark {run}")
    service = service_create(
        organization=organization, actor=None, slug="ingest", name="Ingestion benchmark"
    )
    with rls.tenant_context(organization.pk):
        burst, warmup = (
            Integration.objects.create(
                organization=organization,
                service=service,
                kind=Integration.Kind.ALERTMANAGER,
                name=name,
                rate_limit_per_minute=10_000_000,
            )
            for name in ("Burst", "Warm-up")
        )
    return organization, burst, warmup


def bench_rows() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_row")
        return cursor.fetchone()[0]


def verify(organization, integration, payloads, samples) -> tuple[list[str], list[float]]:
    """The checks (each "ok …" or "FAILED …") and accept-to-incident per alert, in seconds."""
    from alerts.kinds.alertmanager import group_key
    from alerts.models import Alert
    from incidents.models import Incident, TimelineEntry
    from tenancy import rls

    with rls.tenant_context(organization.pk):
        alerts = list(
            Alert.objects.for_org(organization.pk)
            .filter(integration=integration)
            .values_list("fingerprint", "dedup_key", "incident_id", "outcome")
        )
        incidents = list(
            Incident.objects.for_org(organization.pk).filter(alert_group__integration=integration)
        )
        created_entries = (
            TimelineEntry.objects.for_org(organization.pk)
            .filter(incident__alert_group__integration=integration, kind=TimelineEntry.Kind.CREATED)
            .count()
        )
    expected_alerts = sum(len(payload["alerts"]) for payload in payloads)
    keys = [group_key(p["receiver"], p["groupLabels"]) for p in payloads]
    per_key = Counter(incident.dedup_key for incident in incidents)
    by_key = {incident.dedup_key: incident for incident in incidents}
    fingerprints = Counter(fingerprint for fingerprint, *_ in alerts)
    wrong_incident = sum(
        1 for _, key, incident_id, _ in alerts if key not in by_key or by_key[key].pk != incident_id
    )
    outcomes = Counter(outcome for *_, outcome in alerts)
    answered = [sample for sample in samples if sample.status == 202]
    numbers_match = sum(
        1
        for sample, key in zip(samples, keys, strict=True)
        if sample.status == 202
        and key in by_key
        and json.loads(sample.body)["incidents"] == [f"INC-{by_key[key].number}"]
    )
    late = []
    accept_to_incident = []
    for sample, payload, key in zip(samples, payloads, keys, strict=True):
        incident = by_key.get(key)
        if incident is None:
            continue
        delay = incident.created_at.timestamp() - sample.sent_wall
        received_wall = sample.sent_wall + (sample.received - sample.sent)
        if incident.created_at.timestamp() > received_wall:
            late.append(sample.index)
        accept_to_incident.extend([delay] * len(payload["alerts"]))

    def check(ok: bool, text: str) -> str:
        return ("ok      " if ok else "FAILED  ") + text

    checks = [
        check(len(answered) == len(samples), f"202 answers: {len(answered)} of {len(samples)}"),
        check(len(alerts) == expected_alerts, f"alert rows: {len(alerts)} of {expected_alerts}"),
        check(
            len(fingerprints) == len(alerts) and all(n == 1 for n in fingerprints.values()),
            f"distinct alerts (fingerprint): {len(fingerprints)}, stored twice: "
            f"{sum(1 for n in fingerprints.values() if n > 1)}",
        ),
        check(
            len(incidents) == len(set(keys)),
            f"incidents: {len(incidents)} (expected one per group: {len(set(keys))})",
        ),
        check(
            set(per_key) == set(keys) and all(n == 1 for n in per_key.values()),
            f"groups with exactly one incident: {sum(1 for k in set(keys) if per_key[k] == 1)}, "
            f"with more: {sum(1 for n in per_key.values() if n > 1)}, "
            f"with none: {len(set(keys) - set(per_key))}",
        ),
        check(
            not wrong_incident, f"alerts on another incident than their group's: {wrong_incident}"
        ),
        check(
            outcomes[Alert.Outcome.OPENED] == len(set(keys))
            and outcomes[Alert.Outcome.GROUPED] == expected_alerts - len(set(keys)),
            f"outcomes: {dict(sorted(outcomes.items()))}",
        ),
        check(
            numbers_match == len(samples),
            f"answers naming their group's incident number: {numbers_match}",
        ),
        check(
            created_entries == len(incidents),
            f"'created' timeline entries: {created_entries}",
        ),
        check(
            not late,
            f"incidents created after their 202 was received: {len(late)} "
            "(created_at is stamped inside the transaction that commits before the 202)",
        ),
    ]
    return checks, accept_to_incident


# --- report --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[rank]


def spread(values: list[float]) -> str:
    return (
        "  ".join(
            f"{name} {percentile(values, q) * 1000:7.1f} ms"
            for name, q in (("p50", 50), ("p95", 95), ("p99", 99))
        )
        + f"  max {max(values) * 1000:7.1f} ms"
    )


def summary(samples: list[Sample], alerts_per_request: int) -> dict:
    elapsed = max(s.received for s in samples) - min(s.sent for s in samples)
    return {
        "elapsed": elapsed,
        "requests_per_s": len(samples) / elapsed,
        "alerts_per_s": len(samples) * alerts_per_request / elapsed,
        "latencies": [s.received - s.sent for s in samples],
        "errors": sum(1 for s in samples if s.status != 202),
    }


def server_facts() -> str:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync = cursor.fetchone()[0]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"PostgreSQL {version} (synchronous_commit={sync}), rate-limit cache {cache}"


def main(argv: list[str] | None = None) -> int:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-request", type=int, default=1, help="alerts per notification")
    parser.add_argument("--workers", type=int, default=2 * cores + 1, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (>1: gthread worker class)"
    )
    parser.add_argument("--warmup", type=int, default=0, help="warm-up requests (default: auto)")
    args = parser.parse_args(argv)
    if args.alerts < 1 or args.clients < 1 or args.per_request < 1 or args.workers < 1:
        parser.error("--alerts, --clients, --per-request and --workers must be positive")
    groups = -(-args.alerts // args.per_request)

    setup_django()
    from django.db import connections
    from django.utils import timezone

    run = uuid.uuid4().hex[:10]
    organization, integration, warmup_integration = create_tenant(run)
    starts_at = timezone.now().isoformat().replace("+00:00", "Z")
    payloads = []
    for group in range(groups):
        size = min(args.per_request, args.alerts - group * args.per_request)
        payloads.append(notification(run, group, size, starts_at))
    burst = [
        (f"/integrations/alertmanager/{integration.key}/", json.dumps(p).encode()) for p in payloads
    ]
    baseline = [(BARE_PATH, body) for _, body in burst]
    warmups = args.warmup or max(64, 4 * args.workers * args.threads)
    warmup = [
        (
            f"/integrations/alertmanager/{warmup_integration.key}/",
            json.dumps(notification(f"w{run}", n, 1, starts_at)).encode(),
        )
        for n in range(warmups)
    ]
    facts = server_facts()
    rows_before = bench_rows()
    connections.close_all()  # the clients are forked: they must not share a connection

    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"beacon-bench-gunicorn-{run}.log"
    worker_class = f"gthread, {args.threads} threads" if args.threads > 1 else "sync"
    print(
        f"Beacon alert ingestion benchmark, run {run}\n"
        f"  {cores} cores; gunicorn {args.workers} workers ({worker_class}) on 127.0.0.1:{port}; "
        f"{facts}\n"
        f"  {args.alerts} alerts in {groups} Alertmanager notifications of {args.per_request} "
        f"(one group = one incident each) from {args.clients} client processes\n"
        f"  load average before the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}",
        flush=True,
    )
    server = start_gunicorn(port, args.workers, args.threads, log_path)
    try:
        wait_healthy(server, port, log_path)
        fire(port, warmup, args.clients)
        fire(port, [(BARE_PATH, body) for _, body in warmup], args.clients)
        bare = summary(fire(port, baseline, args.clients), args.per_request)
        samples = fire(port, burst, args.clients)
    finally:
        stop_gunicorn(server)
    result = summary(samples, args.per_request)

    checks, accept_to_incident = verify(organization, integration, payloads, samples)
    bare_rows = bench_rows() - rows_before - len(warmup)
    checks.append(
        ("ok      " if bare_rows == len(baseline) and not bare["errors"] else "FAILED  ")
        + f"baseline rows inserted: {bare_rows} of {len(baseline)}, errors {bare['errors']}"
    )
    print(
        f"\nBaseline  bench/bare/ (one INSERT), {len(baseline)} requests:\n"
        f"  {bare['requests_per_s']:8.1f} req/s  in {bare['elapsed']:.2f} s\n"
        f"  latency            {spread(bare['latencies'])}\n"
        f"\nBurst     Alertmanager, {len(samples)} requests, {args.alerts} alerts:\n"
        f"  {result['alerts_per_s']:8.1f} alerts/s  {result['requests_per_s']:8.1f} req/s  "
        f"in {result['elapsed']:.2f} s  (burst/baseline req/s: "
        f"{result['requests_per_s'] / bare['requests_per_s']:.2f})\n"
        f"  request latency    {spread(result['latencies'])}\n"
        f"  accept-to-incident {spread(accept_to_incident)}\n"
        f"    (incident.created_at − send; it commits before the 202, so at most the latency)\n"
        f"\nTarget: ≥ 300 alerts/s and p99 accept-to-incident < 1 s: "
        + (
            "met"
            if result["alerts_per_s"] >= 300 and percentile(accept_to_incident, 99) < 1
            else "NOT met"
        )
        + f"\nLoad average after the run: {' '.join(f'{n:.2f}' for n in os.getloadavg())}"
        + "\n\nChecks:\n  "
        + "\n  ".join(checks)
    )
    if "FAILED" in " ".join(checks):
        print(f"\ngunicorn log: {log_path}")
        return 1
    log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
