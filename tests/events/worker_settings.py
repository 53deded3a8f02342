"""Settings of the processes the real-worker event tests start: Beacon plus the probe."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.events.probe.ProbeConfig"]
