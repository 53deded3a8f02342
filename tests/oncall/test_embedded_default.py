"""The escalation engine on the embedded default (what ``make run`` starts): a SQLite file
and kombu's filesystem broker, with the Procfile's worker and beat as real processes. An
incident on a service with a two-step policy pages step 1 at once and step 2 after its
delay, paged by the beat's tick, not by the test.

One step minute is shortened to two seconds (``BEACON_ONCALL_MINUTE_SECONDS``) so the
test waits seconds, not minutes; the path is the same as with a minute."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 2  # seconds in one of the steps' minutes
TIMEOUT = 45

SETUP = """
from incidents import services as incidents
from oncall.services import policies
from tenancy import services as tenancy
from tenancy.models import Role

org = tenancy.organization_create(slug="acme", name="Acme")
for name in ("carol", "dave"):
    user = tenancy.user_create(username=name, email=f"{name}@example.com")
    tenancy.membership_create(organization=org, actor=None, user=user, role=Role.RESPONDER)
policy = policies.policy_create(
    organization=org, actor=None, name="Two steps",
    steps=[{"delay_minutes": 1, "users": ["carol"]}, {"delay_minutes": 1, "users": ["dave"]}],
)
service = incidents.service_create(
    organization=org, actor=None, slug="web", name="Web", escalation_policy=policy
)
incidents.incident_create(organization=org, actor=None, title="Down", service=service)
"""


@pytest.fixture
def embedded(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
    }
    env.update(
        {
            "BEACON_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "BEACON_ONCALL_MINUTE_SECONDS": str(MINUTE),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    return env, tmp_path


def _pages(database: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT u.username, p.step FROM oncall_page p JOIN auth_user u "
            "ON u.id = p.recipient_id ORDER BY p.id"
        ).fetchall()


def test_two_steps_page_on_the_embedded_default(embedded):
    env, var = embedded
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    processes = [
        subprocess.Popen(
            [*celery, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*celery, "beat", "--loglevel", "WARNING", "-s", str(var / "beat-schedule")],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", SETUP],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        opened = time.monotonic()
        database = var / "beacon.sqlite3"
        first = second = None
        while time.monotonic() - opened < TIMEOUT and second is None:
            pages = _pages(database)
            if pages and first is None:
                first = time.monotonic() - opened
            if len(pages) >= 2:
                second = time.monotonic() - opened
            time.sleep(0.2)
        assert _pages(database) == [("carol", 0), ("dave", 1)]
        assert first is not None
        assert second is not None
        assert second - first >= MINUTE * 0.9  # step 2 waited step 1's delay
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
