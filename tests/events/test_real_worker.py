"""Events reach a subscriber exactly once and in order per incident, through a real Celery
worker on Redis and PostgreSQL, also when the worker is killed mid-delivery and when the
broker is down at commit time.

Each test runs its own Redis (so stopping it disturbs nothing else), a worker started the
way the Procfile starts one, and the publisher and the sweep as separate processes; all of
them connect as the app role. The probe subscriber (tests/events/probe.py) logs every run
to a table without a unique key, so a run that happened twice would show twice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from django.conf import settings
from django.db import connection

from incidents import services
from tenancy import rls
from tests.conftest import database_role
from tests.events import probe
from tests.servers import free_port, server_database_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

INCIDENTS = 4
CHANGES = 20  # per incident: one event each
TIMEOUT = 90


class Redis:
    """A redis-server of the test's own on a free port; ``stop`` and ``start`` again."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis():
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    server = Redis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def probe_log():
    """The probe's table, created by the owner and writable by the app role."""
    app_role = connection.settings_dict["USER"]
    with database_role.as_owner(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {probe.TABLE} (id bigserial PRIMARY KEY, event_id bigint, "
            "stream text, type text, pid int)"
        )
        cursor.execute(f'GRANT SELECT, INSERT ON {probe.TABLE} TO "{app_role}"')
        cursor.execute(f'GRANT USAGE ON SEQUENCE {probe.TABLE}_id_seq TO "{app_role}"')
    yield
    with database_role.as_owner(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {probe.TABLE}")


class Processes:
    """Beacon's processes for the test, on its database (as the app role) and broker."""

    def __init__(self, broker_url: str):
        self.env = {
            **os.environ,
            "DATABASE_URL": server_database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.events.worker_settings",
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "BEACON_EVENTS_REDISPATCH_AFTER": "0",
            "PROBE_DELAY": "0.02",
            "PYTHONUNBUFFERED": "1",
        }
        self.workers: list[subprocess.Popen] = []
        self.logs = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())

    def run(self, *args: str) -> str:
        return self.run_together(args)

    def run_together(self, *commands: tuple[str, ...]) -> str:
        """Runs burst.py commands as processes at the same time; their standard error."""
        started = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.events.burst", *args],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands
        ]
        errors = ""
        for process in started:
            _, stderr = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, stderr[-4000:]
            errors += stderr
        return errors

    def start_worker(self) -> subprocess.Popen:
        worker = subprocess.Popen(
            [
                sys.executable,
                *("-m", "celery", "-A", "config", "worker"),
                *("--pool", "prefork", "--concurrency", "2", "--loglevel", "WARNING"),
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=self.logs,
            stderr=self.logs,
            start_new_session=True,
        )
        self.workers.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen) -> None:
        """SIGKILL to the worker and its pool processes: no shutdown, no acknowledgement."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    def output(self) -> str:
        self.logs.seek(0)
        return self.logs.read().decode(errors="replace")[-4000:]

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.kill(worker)
        self.logs.close()


@pytest.fixture
def processes(redis, probe_log):
    running = Processes(redis.url)
    yield running
    running.close()


@pytest.fixture
def incidents(org):
    return [
        services.incident_create(organization=org, actor=None, title=f"Checkout {n}")
        for n in range(INCIDENTS)
    ]


def burst_events(org, incidents) -> list[tuple[int, str]]:
    """(id, stream) of the events the burst published, in the order they happened."""
    with rls.tenant_context(org.pk), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, stream FROM events_event WHERE organization_id = %s "
            "AND type <> 'incident.created' ORDER BY id",
            [org.pk],
        )
        return cursor.fetchall()


def logged() -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT event_id, stream FROM {probe.TABLE} ORDER BY id")
        return cursor.fetchall()


def wait_for(condition, processes, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {TIMEOUT} s:\n{processes.output()}"
        time.sleep(0.1)


def assert_exactly_once_in_order(published, log):
    counts: dict[int, int] = {}
    for event_id, _ in log:
        counts[event_id] = counts.get(event_id, 0) + 1
    assert {pk for pk, _ in published} == set(counts), "an event was not delivered"
    assert {pk: n for pk, n in counts.items() if n > 1} == {}, "an event was delivered twice"
    for stream in {stream for _, stream in published}:
        assert [pk for pk, s in log if s == stream] == [pk for pk, s in published if s == stream]


def test_a_burst_arrives_once_and_in_order_although_the_worker_is_killed(org, incidents, processes):
    ids = [str(incident.pk) for incident in incidents]
    first = processes.start_worker()
    # Two publishers at once on the same incidents: one comments and moves, one comments.
    processes.run_together(
        ("burst", str(org.pk), str(CHANGES), *ids),
        ("comments", str(org.pk), str(CHANGES), *ids),
    )
    published = burst_events(org, incidents)
    assert len(published) == 2 * INCIDENTS * CHANGES

    wait_for(lambda: len(logged()) >= 10, processes, "the first deliveries")
    processes.kill(first)  # mid-delivery: messages in flight are neither run nor acked
    assert len(logged()) < len(published), "the worker finished before it was killed"

    processes.start_worker()
    processes.run("sweep", str(org.pk))  # sends again what the killed worker held
    wait_for(lambda: len({pk for pk, _ in logged()}) >= len(published), processes, "all")
    time.sleep(1)  # anything still queued twice has had the time to run twice
    assert_exactly_once_in_order(published, logged())

    processes.run("sweep", str(org.pk))
    with rls.tenant_context(org.pk), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM events_event WHERE organization_id = %s AND completed_at IS NULL",
            [org.pk],
        )
        assert cursor.fetchone() == (0,)


def test_events_committed_while_the_broker_was_down_arrive_through_the_sweep(
    org, incidents, redis, processes
):
    ids = [str(incident.pk) for incident in incidents]
    redis.stop()
    stderr = processes.run("burst", str(org.pk), "5", *ids)
    assert "the sweep will send them" in stderr  # committed, dispatch lost, nothing raised
    published = burst_events(org, incidents)
    assert len(published) == INCIDENTS * 5

    redis.start()
    processes.start_worker()
    time.sleep(2)
    assert logged() == []  # nothing reached the broker: only the sweep can deliver them
    processes.run("sweep", str(org.pk))
    wait_for(lambda: len({pk for pk, _ in logged()}) >= len(published), processes, "all")
    processes.run("sweep", str(org.pk))  # a second sweep sends nothing twice
    time.sleep(1)
    assert_exactly_once_in_order(published, logged())
