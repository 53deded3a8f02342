"""The event seam's tests watch their own probes: the subscribers Beacon's apps register
(on-call's escalation engine follows every incident) are set aside while each runs, so
what a test counts is what its probes saw. Processes a test starts keep them all."""

from __future__ import annotations

import pytest

from events import registry


@pytest.fixture(autouse=True)
def _only_the_tests_subscribers():
    apps = dict(registry.SUBSCRIBERS)
    registry.SUBSCRIBERS.clear()
    yield
    registry.SUBSCRIBERS.clear()
    registry.SUBSCRIBERS.update(apps)
