"""A subscriber for the real-worker tests: it writes each event it is given to a table the
test created, in the delivery's own transaction, so a run that is killed leaves nothing
and a run that happened twice shows twice (the log has no unique key)."""

from __future__ import annotations

import os
import time

from django.apps import AppConfig
from django.db import connection

NAME = "tests.events.probe"
TABLE = "events_probe_log"


def record(event) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (event_id, stream, type, pid) VALUES (%s, %s, %s, %s)",
            [event.pk, event.stream, event.type, os.getpid()],
        )
    time.sleep(float(os.environ.get("PROBE_DELAY", "0")))  # keeps a delivery in flight


class ProbeConfig(AppConfig):
    name = "tests.events.probe"
    label = "events_probe"

    def ready(self):
        import reviews.events  # noqa: F401 (every app's types are defined by now)
        from events import bus

        bus.subscribe(NAME, record, types=list(bus.TYPES))
