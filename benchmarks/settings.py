"""The production settings plus the benchmark's baseline endpoint (``bench/bare/``)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
