"""The heartbeat task travels through the real broker to a real worker and into the database.

Needs PostgreSQL and Redis, e.g.:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/beacon \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \
    BEACON_REQUIRE_SERVICES=1 .venv/bin/python -m pytest tests/core
"""

from __future__ import annotations

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.result import EagerResult
from celery.signals import task_postrun
from django.db import connections

from config.celery import app as celery_app
from core import tasks
from core.models import Heartbeat

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TIMEOUT_SECONDS = 20
_ran_on: list[tuple[str, int]] = []


def _after_task(sender=None, **kwargs):
    _ran_on.append((sender.name, threading.get_ident()))
    # The task ran on the worker's thread, which opened its own database connection;
    # close it so the test database can be dropped at the end of the session.
    connections.close_all()


@pytest.fixture
def celery_worker(monkeypatch):
    conf = celery_app.conf
    monkeypatch.setitem(conf, "task_always_eager", False)
    monkeypatch.setitem(conf, "worker_hijack_root_logger", False)
    assert conf.broker_url.startswith("redis"), conf.broker_url

    # A message left in the test broker by an earlier run must not produce the row for us.
    celery_app.control.purge()

    _ran_on.clear()
    task_postrun.connect(_after_task, weak=False)
    try:
        with start_worker(
            celery_app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            shutdown_timeout=20,
        ) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_after_task)


@pytest.mark.django_db(transaction=True)
def test_heartbeat_runs_on_a_real_worker(celery_worker):
    assert not celery_app.conf.task_always_eager
    assert not Heartbeat.objects.filter(name="worker").exists()

    result = tasks.heartbeat.delay()
    assert not isinstance(result, EagerResult)  # sent to the broker, not run in-process

    deadline = time.monotonic() + TIMEOUT_SECONDS
    beat = None
    while beat is None and time.monotonic() < deadline:
        beat = Heartbeat.objects.filter(name="worker").first()
        if beat is None:
            time.sleep(0.1)

    assert beat is not None, f"no heartbeat within {TIMEOUT_SECONDS} s"
    # It was the embedded worker's thread that ran it, not this one.
    deadline = time.monotonic() + 5
    while not _ran_on and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ("core.tasks.heartbeat", threading.get_ident()) not in _ran_on
    assert [name for name, _ in _ran_on] == ["core.tasks.heartbeat"]
