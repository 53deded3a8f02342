"""The escalation engine through a real Celery worker on Redis and PostgreSQL: an incident
on a service with a two-step policy pages step 1 at once and step 2 after its delay, and
a worker killed in the middle of a tick pages nobody twice and misses nobody.

The test runs its own Redis and a worker started the way the Procfile starts one, with
one step minute shortened to a second (``BEACON_ONCALL_MINUTE_SECONDS``). It plays beat:
a thread sends the organization's tick every few tenths of a second. To kill the worker
inside a tick, a second connection holds ``oncall_page`` locked, so the tick's page
insert waits mid-transaction; the worker is killed there, a new one started, the lock
released: the dead tick's transaction rolls back and a live tick pages instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from incidents import services as incident_services
from oncall.models import Escalation, Page
from tenancy import rls
from tenancy.models import Role
from tests.events.test_real_worker import redis  # noqa: F401 -- the fixture
from tests.oncall.engine_helpers import make_policy, make_service
from tests.servers import server_database_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

DELAY_SECONDS = 2  # step 1's delay: 2 "minutes" of a second each
TIMEOUT = 20


class Worker:
    def __init__(self, broker_url: str):
        self.env = {
            **os.environ,
            "DATABASE_URL": server_database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "BEACON_ONCALL_MINUTE_SECONDS": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None
        self.log = open(os.environ.get("ONCALL_WORKER_LOG", os.devnull), "ab")  # noqa: SIM115

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "celery", "-A", "config", "worker"),
                *(
                    "--pool",
                    "prefork",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    os.environ.get("ONCALL_WORKER_LOGLEVEL", "WARNING"),
                ),
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)


@pytest.fixture
def workers(redis):  # noqa: F811 -- the fixture imported above
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(redis.url)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill(signal.SIGTERM)


@pytest.fixture
def beat(redis, org):  # noqa: F811
    """Sends the organization's tick every 0.3 s while the test runs."""
    app = Celery(broker=redis.url, set_as_current=False)
    stop = threading.Event()

    errors: list[Exception] = []

    def send():
        try:
            # The URL given here, not CELERY_BROKER_URL of the test's own environment.
            with app.connection_for_write(redis.url) as broker:
                while not stop.is_set():
                    app.send_task(
                        "oncall.tasks.tick_organization", args=[org.pk], connection=broker
                    )
                    stop.wait(0.3)
        except Exception as exc:  # reported when the test ends
            errors.append(exc)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)
    assert not errors, errors


def pages(org) -> list[tuple[str, int, float]]:
    with rls.tenant_context(org.pk):
        return [
            (username, step, created.timestamp())
            for username, step, created in Page.objects.for_org(org)
            .order_by("pk")
            .values_list("recipient__username", "step", "created_at")
        ]


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {TIMEOUT} s"
        time.sleep(0.1)


def waiting_page_insert(lock_holder_pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO \"oncall_page\"%%' AND pid <> %s",
            [lock_holder_pid],
        )
        return cursor.fetchone()[0] > 0


@pytest.fixture
def incident_on_two_steps(org, member):
    alice = member(Role.RESPONDER, username="alice")
    bob = member(Role.RESPONDER, username="bob")
    policy = make_policy(
        org, "Two steps", [{"delay": DELAY_SECONDS, "users": [alice]}, {"users": [bob]}]
    )
    service = make_service(org, "checkout", policy=policy)

    def open_it():
        return incident_services.incident_create(
            organization=org, actor=None, title="Checkout down", service=service
        )

    return open_it


def assert_paged_once_each(org, incident) -> None:
    paged = pages(org)
    assert [(name, step) for name, step, _ in paged] == [("alice", 0), ("bob", 1)]
    assert paged[1][2] - paged[0][2] >= DELAY_SECONDS
    with rls.tenant_context(org.pk):
        escalation = Escalation.objects.for_org(org).get(incident=incident)
        assert escalation.state == Escalation.State.EXHAUSTED
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM events_event WHERE organization_id = %s "
                "AND type = 'page.created'",
                [org.pk],
            )
            assert cursor.fetchone() == (2,)


def test_step_one_pages_at_once_and_step_two_after_its_delay(
    org, workers, beat, incident_on_two_steps
):
    workers()
    opened_at = time.time()
    incident = incident_on_two_steps()  # escalation started at commit, due now
    with rls.tenant_context(org.pk):
        assert Escalation.objects.for_org(org).filter(incident=incident, state="active").exists()
    wait_for(lambda: len(pages(org)) >= 1, "step 1")
    assert pages(org)[0][2] - opened_at < 5
    wait_for(lambda: len(pages(org)) >= 2, "step 2")
    time.sleep(1)  # a double page has had the time to happen
    assert_paged_once_each(org, incident)


def test_a_worker_killed_inside_a_tick_pages_nobody_twice_and_misses_nobody(
    org, workers, beat, incident_on_two_steps
):
    first = workers()
    with psycopg.connect(server_database_url().replace("postgres://", "postgresql://")) as locker:
        locker.execute("LOCK TABLE oncall_page IN EXCLUSIVE MODE")
        holder = locker.execute("SELECT pg_backend_pid()").fetchone()[0]
        incident = incident_on_two_steps()
        wait_for(lambda: waiting_page_insert(holder), "a tick waiting to write its pages")
        first.kill()  # inside the tick's transaction: nothing committed, message not acked
        workers()
        time.sleep(1)  # the new worker's ticks skip the escalation the dead one locked
        assert pages(org) == []
        locker.rollback()  # the dead tick's insert goes on, finds its client gone, rolls back
    wait_for(lambda: len(pages(org)) >= 2, "both steps after the kill")
    time.sleep(1)
    assert_paged_once_each(org, incident)
