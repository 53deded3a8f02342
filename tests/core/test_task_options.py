"""Every task of Beacon's apps is acknowledged late, re-queued when its worker dies and has
time limits; every periodic entry names a registered task."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

from config.celery import app as celery_app

# Beacon's own apps: the packages at the top of the project.
APPS = tuple(
    f"{app.name}."
    for app in apps.get_app_configs()
    if Path(app.path).parent == Path(settings.BASE_DIR)
)


def beacon_tasks():
    celery_app.loader.import_default_modules()
    return sorted(name for name in celery_app.tasks if name.startswith(APPS))


@pytest.mark.parametrize("name", beacon_tasks())
def test_every_task_survives_a_lost_worker_and_has_time_limits(name):
    task = celery_app.tasks[name]
    assert task.acks_late
    assert task.reject_on_worker_lost
    assert task.time_limit
    assert task.soft_time_limit
    assert task.soft_time_limit < task.time_limit


def test_every_periodic_entry_names_a_task():
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in beacon_tasks()
