"""Outgoing webhooks end to end against a local receiver: what is sent and how it is
signed, exactly once per event, and what each answer does (retry with backoff, honour
Retry-After, stop, turn the webhook off)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from standardwebhooks.webhooks import Webhook as Verifier

from events.models import Event
from incidents import services as incident_services
from incidents.states import Status
from notifications import channels
from notifications.channels import webhook as webhook_channel
from notifications.models import MAX_ATTEMPTS, Delivery, Webhook
from notifications.services import deliveries
from notifications.services import webhooks as services
from tenancy import rls
from tenancy.models import Role

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def admin(member):
    return member(Role.ADMIN, username="boss")


@pytest.fixture
def hook(org, admin, receiver):
    webhook, secret = services.webhook_create(
        organization=org,
        actor=admin,
        name="Tickets",
        url=receiver.url,
        events=["incident.created", "incident.resolved"],
    )
    webhook.plain_secret = secret
    return webhook


def open_incident(org, capture, title="Checkout down"):
    with capture(execute=True):
        return incident_services.incident_create(
            organization=org, actor=None, title=title, impact=1, urgency=1
        )


def of(org, **filters) -> list[Delivery]:
    with rls.tenant_context(org.pk):
        return list(Delivery.objects.for_org(org).filter(**filters).order_by("pk"))


def send_due(org):
    for delivery_id in deliveries.due_ids(org.pk):
        deliveries.delivery_send(organization_id=org.pk, delivery_id=delivery_id)


def test_an_event_is_posted_once_signed_with_the_api_incident(
    org, hook, receiver, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks)
    [request] = receiver.received
    headers = {name.lower(): value for name, value in request["headers"].items()}
    body = Verifier(hook.plain_secret).verify(request["body"], headers)
    assert body["type"] == "incident.created"
    assert body["data"]["incident"]["number"] == incident.number
    assert body["data"]["incident"]["reference"] == incident.reference
    assert body["timestamp"].endswith("Z")
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.DELIVERED
    assert headers["webhook-id"] == delivery.message_id
    assert [a.status_code for a in delivery.attempt_log.all()] == [200]

    # The event handled again (a redelivery) writes and sends nothing more.
    with rls.tenant_context(org.pk):
        event = Event.objects.for_org(org).get(type="incident.created")
    with django_capture_on_commit_callbacks(execute=True), rls.tenant_context(org.pk):
        deliveries.webhook_deliveries(event)
    assert len(receiver.received) == 1
    assert len(of(org)) == 1


def test_only_the_events_asked_for_and_resolved_by_its_own_name(
    org, hook, receiver, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_transition(
            organization=org, actor=None, incident=incident, status=Status.IN_PROGRESS
        )
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_transition(
            organization=org,
            actor=None,
            incident=incident,
            status=Status.RESOLVED,
            resolution="Rolled back the release.",
        )
    assert [body["type"] for body in receiver.bodies()] == [
        "incident.created",
        "incident.resolved",
    ]
    resolved = receiver.bodies()[1]["data"]
    assert resolved["incident"]["status"] == "resolved"
    assert (resolved["from"], resolved["to"]) == ("in_progress", "resolved")


def test_a_turned_off_webhook_gets_nothing(
    org, admin, hook, receiver, django_capture_on_commit_callbacks
):
    services.webhook_update(organization=org, actor=admin, webhook=hook, is_active=False)
    open_incident(org, django_capture_on_commit_callbacks)
    assert receiver.received == []
    assert of(org) == []


def test_failures_are_tried_again_with_backoff_then_fail(
    org, hook, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.answer(*[(503,)] * MAX_ATTEMPTS)
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.PENDING
    waits, now = [], T0
    for _ in range(MAX_ATTEMPTS - 1):
        waits.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at
        clock.move_to(now - timedelta(seconds=1))
        send_due(org)
        assert len(receiver.received) == len(waits), "not before it is due"
        clock.move_to(now)
        send_due(org)
        [delivery] = of(org)
    assert delivery.status == Delivery.Status.FAILED
    assert len(receiver.received) == MAX_ATTEMPTS
    # Doubling from 30 s (with jitter between half and all of it), capped at an hour.
    for attempt, wait in enumerate(waits, start=1):
        full = min(timedelta(seconds=30) * 2 ** (attempt - 1), timedelta(hours=1))
        assert full / 2 <= wait <= full, (attempt, wait)
    assert delivery.last_error == "The endpoint answered 503."


def test_retry_after_is_honoured(org, hook, receiver, clock, django_capture_on_commit_callbacks):
    receiver.answer((429, {"Retry-After": "600"}))
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    assert delivery.next_attempt_at == T0 + timedelta(seconds=600)
    clock.move_to(T0 + timedelta(seconds=600))
    send_due(org)
    assert of(org)[0].status == Delivery.Status.DELIVERED


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_an_answer_that_means_stop_fails_it_at_once(
    org, hook, receiver, django_capture_on_commit_callbacks, status
):
    receiver.answer((status,))
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.next_attempt_at is None


def test_gone_turns_the_webhook_off(org, hook, receiver, django_capture_on_commit_callbacks):
    receiver.answer((410,))
    open_incident(org, django_capture_on_commit_callbacks)
    with rls.tenant_context(org.pk):
        webhook = Webhook.objects.for_org(org).get(pk=hook.pk)
    assert not webhook.is_active
    assert "410" in webhook.disabled_reason
    open_incident(org, django_capture_on_commit_callbacks, title="Again")
    assert len(receiver.received) == 1


def test_a_timeout_is_tried_again(org, hook, receiver, django_capture_on_commit_callbacks):
    receiver.answer((200, {}, b"", 1.0))  # longer than the 0.5 s the tests allow
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.PENDING
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code is None
    assert attempt.error


def test_a_delivery_being_sent_is_not_sent_again(
    org, hook, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.answer((503,))
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    clock.move_to(delivery.next_attempt_at)
    taken = deliveries._take(org.pk, delivery.pk)  # a sender that then died
    assert taken is not None
    send_due(org)
    assert len(receiver.received) == 1, "leased to the first sender"
    clock.move_to(taken.next_attempt_at)  # the lease is over: sent again (at least once)
    send_due(org)
    assert len(receiver.received) == 2
    assert (
        receiver.received[0]["headers"]["webhook-id"]
        == (receiver.received[1]["headers"]["webhook-id"])
    )


def test_a_failed_delivery_is_retried_by_hand(
    org, admin, hook, receiver, django_capture_on_commit_callbacks
):
    receiver.answer((404,))
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.delivery_retry(organization=org, actor=admin, delivery=delivery)
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.DELIVERED
    assert [a.number for a in delivery.attempt_log.all()] == [1, 2]


def test_during_a_rotation_both_secrets_verify(
    org, admin, hook, receiver, django_capture_on_commit_callbacks
):
    _, new = services.webhook_rotate_secret(organization=org, actor=admin, webhook=hook)
    open_incident(org, django_capture_on_commit_callbacks)
    [request] = receiver.received
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, hook.plain_secret):
        Verifier(secret).verify(request["body"], headers)


def test_another_organizations_events_reach_only_its_webhooks(
    org, other_org, hook, receiver, django_capture_on_commit_callbacks
):
    open_incident(other_org, django_capture_on_commit_callbacks)
    assert receiver.received == []
    assert of(org) == []


def test_a_receiver_on_a_private_address_is_refused_and_never_reached(
    org, hook, receiver, settings, django_capture_on_commit_callbacks
):
    settings.BEACON_ALLOW_PRIVATE_OUTBOUND = False
    open_incident(org, django_capture_on_commit_callbacks)
    assert receiver.received == []
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.FAILED, "refusing is not worth another try"
    assert "not a public address" in delivery.last_error


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", timedelta(seconds=120)),
        ("Mon, 02 Mar 2026 09:10:00 GMT", timedelta(minutes=10)),
        ("Mon, 02 Mar 2026 08:00:00 GMT", timedelta(0)),  # in the past: now
        ("100000000000000", None),  # absurd: the usual backoff
        ("²", None),
        ("-5", None),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_nothing_else(clock, value, expected):
    assert webhook_channel.retry_after({"retry-after": value}) == expected


def test_backoff_stays_bounded_however_many_attempts():
    assert deliveries.backoff(1000) <= timedelta(hours=1)


def test_a_nul_in_the_answer_is_recorded_without_it(
    org, hook, receiver, django_capture_on_commit_callbacks
):
    receiver.answer((200, {}, b"ok\x00binary"))
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempt_log.get().response == "okbinary"


def test_a_send_that_breaks_is_recorded_and_tried_again(
    org, hook, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(webhook_channel.outbound, "post", broken)
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_error == "Beacon could not send it (RuntimeError)."
    assert delivery.attempt_log.count() == 1


def test_a_sender_that_finishes_after_its_lease_changes_nothing(
    org, hook, receiver, clock, monkeypatch, django_capture_on_commit_callbacks
):
    receiver.answer((503,), (200,))
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    clock.move_to(delivery.next_attempt_at)
    slow = deliveries._take(org.pk, delivery.pk)  # a sender that is slow, not dead
    clock.move_to(slow.next_attempt_at)  # its lease is over: another sender delivers it
    send_due(org)
    assert of(org)[0].status == Delivery.Status.DELIVERED

    # The slow one comes back with a failure: recorded as its attempt, nothing undone.
    monkeypatch.setattr(webhook_channel, "send", lambda d: channels.Outcome("retry", "late"))
    monkeypatch.setattr(deliveries, "_take", lambda organization_id, delivery_id: slow)
    assert deliveries.delivery_send(organization_id=org.pk, delivery_id=slow.pk) is None
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.DELIVERED
    errors = {attempt.error for attempt in delivery.attempt_log.all()}
    assert errors == {"", "late", "The endpoint answered 503."}


def test_a_delivery_whose_sends_never_came_back_fails_at_its_budget(
    org, hook, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.answer((503,))
    open_incident(org, django_capture_on_commit_callbacks)
    with rls.tenant_context(org.pk):
        Delivery.objects.for_org(org).update(attempts=MAX_ATTEMPTS, next_attempt_at=T0)
    send_due(org)
    [delivery] = of(org)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error == f"Gave up after {MAX_ATTEMPTS} attempts."
    assert len(receiver.received) == 1


def test_a_due_delivery_is_queued_once_until_its_send_is_lost(
    org, hook, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.answer((503,))
    open_incident(org, django_capture_on_commit_callbacks)
    [delivery] = of(org)
    clock.move_to(delivery.next_attempt_at)
    assert deliveries.due_ids(org.pk) == [delivery.pk]
    assert deliveries.due_ids(org.pk) == [], "queued already"
    clock.shift(timedelta(minutes=1, seconds=1))
    assert deliveries.due_ids(org.pk) == [delivery.pk], "that send was lost: again"


def test_an_update_posted_carries_the_update(
    org, admin, receiver, django_capture_on_commit_callbacks
):
    services.webhook_create(
        organization=org,
        actor=admin,
        name="Status",
        url=receiver.url,
        events=["incident.update_posted"],
    )
    incident = open_incident(org, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_post_update(
            organization=org, actor=admin, incident=incident, body="Fix deployed."
        )
    [body] = receiver.bodies()
    assert body["data"]["update"]["body"] == "Fix deployed."
