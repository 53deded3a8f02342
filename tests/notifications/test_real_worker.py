"""Outgoing webhooks through a real Celery worker on Redis and PostgreSQL, to a receiver
in this process: changes made while the broker is down are delivered, each exactly once,
once it is back; a worker killed in the middle of a send sends that one message again
(the receiver deduplicates it by ``webhook-id``) and nothing else twice.

Changes are made by ``tests.events.burst`` in processes of their own, the way the web
does; the test plays beat, sending the events sweep and the outbox's ``send_due`` every
few tenths of a second.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from celery import Celery

from notifications.models import Delivery
from notifications.services import webhooks
from tenancy import rls
from tests.events.test_real_worker import (  # noqa: F401 -- the fixtures
    INCIDENTS,
    incidents,
    probe_log,
    processes,
    redis,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 60


@pytest.fixture
def hook(org, receiver):
    webhook, _ = webhooks.webhook_create(
        organization=org,
        actor=None,
        name="Tickets",
        url=receiver.url,
        events=["incident.status_changed"],
    )
    return webhook


@pytest.fixture
def beat(redis, org):  # noqa: F811
    """Sends the organization's events sweep and outbox sends every 0.3 s."""
    app = Celery(broker=redis.url, set_as_current=False)
    stop = threading.Event()

    def send():
        while not stop.is_set():
            try:
                with app.connection_for_write(redis.url) as broker:
                    while not stop.is_set():
                        for task in (
                            "events.tasks.sweep_organization",
                            "notifications.tasks.send_due",
                        ):
                            app.send_task(task, args=[org.pk], connection=broker)
                        stop.wait(0.3)
            except Exception:  # the broker is down for a while: try again
                stop.wait(0.3)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


@pytest.fixture
def worker_env(processes):  # noqa: F811
    processes.env.update(
        {
            "BEACON_ALLOW_PRIVATE_OUTBOUND": "1",  # the receiver is on 127.0.0.1
            "BEACON_WEBHOOK_TIMEOUT": "2",
            "BEACON_EVENTS_REDISPATCH_AFTER": "0",
        }
    )
    return processes


def wait_for(condition, what: str, processes) -> None:  # noqa: F811
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {TIMEOUT} s\n{processes.output()}"
        time.sleep(0.1)


def ids_received(receiver) -> Counter:
    return Counter(request["headers"]["webhook-id"] for request in receiver.received)


def delivered(org) -> list[str]:
    with rls.tenant_context(org.pk):
        return list(Delivery.objects.for_org(org).values_list("status", flat=True))


def test_changes_made_while_the_broker_was_down_are_delivered_once_each(
    org,
    hook,
    receiver,
    redis,  # noqa: F811
    incidents,  # noqa: F811
    worker_env,
    beat,
):
    ids = [str(incident.pk) for incident in incidents]
    redis.stop()
    worker_env.run("burst", str(org.pk), "10", *ids)  # two status changes per incident
    expected = INCIDENTS * 2
    redis.start()
    worker_env.start_worker()
    wait_for(lambda: len(receiver.received) >= expected, "every message", worker_env)
    wait_for(lambda: delivered(org).count("delivered") == expected, "recorded", worker_env)
    time.sleep(2)  # a second send has had the time to happen
    received = ids_received(receiver)
    assert len(received) == expected
    assert set(received.values()) == {1}, "exactly once each"
    changes = Counter((body["data"]["from"], body["data"]["to"]) for body in receiver.bodies())
    assert changes == {
        ("new", "acknowledged"): INCIDENTS,
        ("acknowledged", "in_progress"): INCIDENTS,
    }


def test_a_worker_killed_mid_send_sends_that_message_again_and_nothing_else(
    org,
    hook,
    receiver,
    incidents,  # noqa: F811
    worker_env,
    beat,
):
    receiver.answer((200, {}, b"", 30))  # the first message hangs: its worker is killed
    worker_env.env["BEACON_WEBHOOK_TIMEOUT"] = "8"  # killed well before its timeout
    first = worker_env.start_worker()
    ids = [str(incident.pk) for incident in incidents]
    worker_env.run("burst", str(org.pk), "5", *ids)  # one status change per incident
    wait_for(lambda: len(receiver.received) >= INCIDENTS, "every first attempt", worker_env)
    wait_for(lambda: delivered(org).count("delivered") == INCIDENTS - 1, "the rest", worker_env)
    worker_env.kill(first)
    hung = receiver.received[0]["headers"]["webhook-id"]
    worker_env.start_worker()
    # Once its lease (2 x 8 s + 10 s) is over, the killed send is made again.
    wait_for(lambda: delivered(org).count("delivered") == INCIDENTS, "the hung one", worker_env)
    time.sleep(2)
    received = ids_received(receiver)
    assert received[hung] == 2
    assert len(received) == INCIDENTS
    assert {count for webhook_id, count in received.items() if webhook_id != hung} == {1}
    with rls.tenant_context(org.pk):
        resent = Delivery.objects.for_org(org).get(message_id=hung)
        # Two sends, one attempt recorded: the first died with its worker, not by timing out.
        assert (resent.attempts, resent.attempt_log.count()) == (2, 1)
