"""gunicorn settings for Beacon's web process: ``gunicorn -c gunicorn.conf.py config.wsgi``.

gunicorn reads this file by itself when started from this directory; the Procfile and the
README name it anyway. Command-line options (bind address, workers) still apply.

/metrics must count every worker, not the one a scrape happens to reach: prometheus_client
runs in multiprocess mode, where each worker keeps its metrics in files under
``PROMETHEUS_MULTIPROC_DIR`` and a scrape, whichever worker answers it, sums them all. The
directory must be empty when the server starts (a previous run's files would be counted
again), and an exiting worker's live gauges are removed. Without ``PROMETHEUS_MULTIPROC_DIR``
in the environment a private temporary directory is used and removed at exit; a directory
you set is emptied of metric files (``*.db``) at start.
"""

import os
import shutil
import tempfile
from pathlib import Path

_configured = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if not _configured:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="beacon-metrics-")
METRICS_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])

# Imported only now: prometheus_client picks its storage when imported, and the workers,
# forked from this process, inherit what was imported here.
from prometheus_client import multiprocess  # noqa: E402


def on_starting(server):
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))


def on_exit(server):
    if not _configured:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
