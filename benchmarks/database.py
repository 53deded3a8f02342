"""What every benchmark does first: Django on the PostgreSQL it measures, migrated."""

from __future__ import annotations

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS = "benchmarks.settings"


def setup_django() -> None:
    """Refuses anything but PostgreSQL (the production setup), then applies missing
    migrations."""
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        sys.exit(
            "This benchmark measures the production setup: set DATABASE_URL to PostgreSQL, "
            "e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/beacon_bench"
        )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        print("Applying missing migrations…", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
