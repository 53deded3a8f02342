"""Gauges apps read from the database at scrape time, for ``/metrics``.

An app registers its collector here (in ``AppConfig.ready``) rather than on the default
registry alone: in multiprocess mode (gunicorn with ``PROMETHEUS_MULTIPROC_DIR``) the
scraped worker builds a registry of the workers' files and these collectors, which are the
same whichever process computes them."""

from __future__ import annotations

from prometheus_client import REGISTRY

COLLECTORS: list = []


def register_collector(collector) -> None:
    """Adds a collector to this process's registry and to every multiprocess scrape."""
    REGISTRY.register(collector)
    COLLECTORS.append(collector)
