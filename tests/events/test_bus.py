"""The event seam: services publish typed events in their transaction; after commit each
(event, subscriber) runs once, in stream order; the sweep sends what dispatch lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from events import bus, delivery, tasks
from events.models import Delivery, Event
from incidents import services
from incidents.models import Incident
from incidents.states import Status
from tenancy.models import Role
from tests.conftest import see

pytestmark = pytest.mark.django_db

PROBE = "tests.probe"


class Probe:
    """A subscriber that remembers what it was given; ``fail`` makes it raise."""

    def __init__(self):
        self.seen: list[tuple[int, str, str]] = []
        self.fail = False

    def __call__(self, event):
        if self.fail:
            raise RuntimeError("the subscriber failed")
        self.seen.append((event.pk, event.type, event.stream))


@pytest.fixture
def probe():
    handler = Probe()
    bus.subscribe(PROBE, handler, types=bus.TYPES.keys())
    yield handler
    bus.unsubscribe(PROBE)


def published(org, **filters):
    see(org)
    return list(Event.objects.for_org(org).filter(**filters).order_by("pk"))


def create(org, actor=None, **fields):
    return services.incident_create(
        organization=org, actor=actor, title=fields.pop("title", "Checkout fails"), **fields
    )


def test_each_incident_change_publishes_its_typed_event_with_what_changed(org, member):
    responder = member(Role.RESPONDER)
    incident = create(org, responder, impact=3, urgency=3)
    services.incident_transition(
        organization=org, actor=responder, incident=incident, status=Status.ACKNOWLEDGED
    )
    services.incident_update(
        organization=org, actor=responder, incident=incident, assignee=responder, impact=1
    )
    services.incident_override_priority(
        organization=org, actor=responder, incident=incident, priority=1, reason="CEO noticed"
    )
    services.incident_comment(organization=org, actor=responder, incident=incident, body="Hm")
    services.incident_post_update(
        organization=org, actor=responder, incident=incident, body="We are on it."
    )

    events = published(org)
    assert [e.type for e in events] == [
        "incident.created",
        "incident.status_changed",
        "incident.updated",
        "incident.assigned",
        "incident.priority_changed",
        "incident.priority_changed",
        "incident.comment_added",
        "incident.update_posted",
    ]
    assert {e.stream for e in events} == {f"incident:{incident.pk}"}
    created, status, updated, assigned, by_matrix, override, comment, update = events
    assert created.payload["incident"]["number"] == incident.number
    assert created.payload["actor"] == {
        "label": responder.username,
        "user_id": responder.pk,
        "api_key_id": None,
    }
    assert status.payload["from"] == "new"
    assert status.payload["to"] == "acknowledged"
    assert status.payload["incident"]["status"] == "acknowledged"
    assert updated.payload["changes"] == {
        "assignee": {"from": None, "to": responder.pk},
        "impact": {"from": 3, "to": 1},
    }
    assert assigned.payload["changes"] == {"assignee": {"from": None, "to": responder.pk}}
    assert by_matrix.payload["reason"] == "matrix"
    assert (by_matrix.payload["from"], by_matrix.payload["to"]) == (5, 3)
    assert override.payload["reason"] == "CEO noticed"
    assert override.payload["to"] == 1
    assert override.payload["incident"]["priority"] == 1
    assert comment.payload["comment"]["body"] == "Hm"
    assert comment.payload["comment"]["is_public"] is False
    assert update.payload["update"]["body"] == "We are on it."


def test_a_refused_change_publishes_nothing(org):
    incident = create(org)
    before = len(published(org))
    with pytest.raises(services.InvalidTransition):
        services.incident_transition(
            organization=org, actor=None, incident=incident, status=Status.CLOSED
        )
    assert len(published(org)) == before


def failing_request(org):
    """A request that opens an incident and then fails: its transaction rolls back."""
    with transaction.atomic():
        create(org)
        raise RuntimeError("the request failed after the service")


def test_an_event_is_written_in_the_transaction_of_its_change(org):
    with pytest.raises(RuntimeError):
        failing_request(org)
    assert published(org) == []


def test_an_event_nobody_subscribes_to_is_complete_at_once(org):
    create(org)
    [event] = published(org)
    assert event.completed_at is not None


def test_unknown_types_and_a_second_subscriber_of_the_same_name_are_refused(probe):
    with pytest.raises(ValueError, match="Unknown event type"):
        bus.event(organization_id=1, type="incident.exploded", stream="x", payload={})
    with pytest.raises(ValueError, match="Unknown event types"):
        bus.subscribe("tests.other", print, types=["incident.exploded"])
    with pytest.raises(ValueError, match="registered already"):
        bus.subscribe(PROBE, print, types=["incident.created"])


def test_after_commit_each_subscriber_runs_once(org, probe, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        incident = create(org)
    assert len(callbacks) == 1
    [event] = published(org)
    assert probe.seen == [(event.pk, "incident.created", f"incident:{incident.pk}")]
    assert list(Delivery.objects.for_org(org).values_list("event", "subscriber")) == [
        (event.pk, PROBE)
    ]

    # The same task again (a redelivered message, a second worker): nothing runs twice.
    assert tasks.deliver(org.pk, event.pk, PROBE) == 0
    assert len(probe.seen) == 1


def test_nothing_is_dispatched_before_commit_or_after_a_rollback(
    org, probe, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        failing_request(org)
    assert callbacks == []
    assert probe.seen == []


def test_a_later_event_delivered_first_brings_the_earlier_ones_in_order(org, probe):
    incident = create(org)
    services.incident_comment(organization=org, actor=None, incident=incident, body="one")
    services.incident_comment(organization=org, actor=None, incident=incident, body="two")
    created, first, second = published(org)

    assert tasks.deliver(org.pk, second.pk, PROBE) == 3
    assert [pk for pk, _, _ in probe.seen] == [created.pk, first.pk, second.pk]
    assert tasks.deliver(org.pk, first.pk, PROBE) == 0
    assert len(probe.seen) == 3


def test_streams_are_independent(org, probe):
    create(org)
    two = create(org)
    [_, event_of_two] = published(org)
    tasks.deliver(org.pk, event_of_two.pk, PROBE)
    assert [stream for _, _, stream in probe.seen] == [f"incident:{two.pk}"]


def test_a_failing_subscriber_holds_back_its_own_later_events_only(org, probe):
    """Order is kept per subscriber: while an event fails for one, that incident's later
    events wait for it, and the other subscriber and the other incidents go on."""
    failing = Probe()
    failing.fail = True
    bus.subscribe("tests.failing", failing, types=bus.TYPES.keys())
    try:
        incident, other = create(org), create(org)
        services.incident_comment(organization=org, actor=None, incident=incident, body="x")
        created, created_other, comment = published(org)
        with pytest.raises(RuntimeError):
            delivery.deliver(org.pk, comment.pk, "tests.failing")
        assert delivery.deliver(org.pk, comment.pk, PROBE) == (2, False)
        assert [pk for pk, _, _ in probe.seen] == [created.pk, comment.pk]
        failing.fail = False
        assert delivery.deliver(org.pk, created_other.pk, "tests.failing") == (1, False)
        assert delivery.deliver(org.pk, comment.pk, "tests.failing") == (2, False)
        assert [pk for pk, _, _ in failing.seen] == [created_other.pk, created.pk, comment.pk]
    finally:
        bus.unsubscribe("tests.failing")
    see(org)
    pending = Event.objects.for_org(org).filter(completed_at__isnull=True)
    # Both have run for the first incident's events; the probe never got the other's.
    assert list(pending.values_list("stream", flat=True)) == [f"incident:{other.pk}"]


def test_a_long_backlog_is_delivered_in_order_in_several_tasks(org, probe, monkeypatch):
    monkeypatch.setattr(delivery, "DELIVERY_BATCH", 2)
    incident = create(org)
    for n in range(4):
        services.incident_comment(organization=org, actor=None, incident=incident, body=f"{n}")
    events = published(org)
    assert tasks.deliver(org.pk, events[-1].pk, PROBE) == 2  # and hands the rest on
    assert [pk for pk, _, _ in probe.seen] == [event.pk for event in events]


def test_a_failing_subscriber_records_nothing_and_runs_again_later(org, probe):
    create(org)
    [event] = published(org)
    probe.fail = True
    with pytest.raises(RuntimeError):
        delivery.deliver(org.pk, event.pk, PROBE)
    assert not Delivery.objects.for_org(org).exists()

    probe.fail = False
    assert delivery.deliver(org.pk, event.pk, PROBE) == (1, False)
    assert Delivery.objects.for_org(org).count() == 1


def test_the_subscribers_writes_commit_with_its_delivery_or_not_at_all(org, member):
    """A subscriber that writes and then fails leaves neither its write nor a delivery."""
    responder = member(Role.RESPONDER)

    def comment_then_fail(event):
        incident = Incident.objects.for_org(org).get(pk=event.payload["incident"]["id"])
        services.incident_comment(
            organization=org, actor=responder, incident=incident, body="from the subscriber"
        )
        raise RuntimeError("after writing")

    bus.subscribe("tests.writer", comment_then_fail, types=["incident.created"])
    try:
        incident = create(org)
        [event] = published(org, type="incident.created")
        with pytest.raises(RuntimeError, match="after writing"):
            delivery.deliver(org.pk, event.pk, "tests.writer")
    finally:
        bus.unsubscribe("tests.writer")
    see(org)
    assert not incident.timeline.filter(body="from the subscriber").exists()
    assert not Delivery.objects.for_org(org).exists()


def test_a_subscriber_registered_later_is_not_given_complete_events(org, probe):
    """Complete events (everyone subscribed when they happened has run) stay behind: a
    later event of the stream brings only the incomplete ones before it."""
    bus.unsubscribe(PROBE)
    incident = create(org)  # nobody subscribes: complete at once
    bus.subscribe(PROBE, probe, types=bus.TYPES.keys())
    services.incident_comment(organization=org, actor=None, incident=incident, body="now")
    created, comment = published(org)
    assert created.completed_at is not None
    assert tasks.deliver(org.pk, comment.pk, PROBE) == 1
    assert [pk for pk, _, _ in probe.seen] == [comment.pk]


def test_the_sweep_sends_what_a_lost_dispatch_never_delivered(org, other_org, probe):
    create(org)  # published, but its after-commit dispatch never ran (no on_commit here)
    create(other_org)
    see(org, other_org)
    assert probe.seen == []

    assert tasks.sweep_organization(org.pk) == 0  # too young: its dispatch may be on its way
    later = timezone.now() + timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        assert tasks.sweep_organization(org.pk) == 1
        [event] = published(org)
        assert probe.seen == [(event.pk, event.type, event.stream)]
        assert event.completed_at == later  # every subscriber has run: complete
        assert tasks.sweep_organization(org.pk) == 0
        see(org, other_org)
        # Another organization's sweep is its own: Globex's event is still pending.
        assert Event.objects.for_org(other_org).get().completed_at is None


def test_the_sweep_backs_off_an_event_that_keeps_failing(org, probe, monkeypatch):
    """Sent again after 1, then 2, then 4 minutes (REDISPATCH_AFTER doubling), not on
    every sweep: a stuck event does not pile tasks up in the broker."""
    sent = []
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, **kwargs: sent.append(args))
    create(org)
    start = timezone.now()
    for minutes, expected in ((2, 1), (2.5, 0), (4.1, 1), (6, 0), (8.2, 1), (10, 0)):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert tasks.sweep_organization(org.pk) == expected, minutes
    [event] = published(org)
    assert event.redispatches == 3
    assert sent == [(org.pk, event.pk, PROBE)] * 3


def test_the_periodic_sweep_fans_out_one_task_per_active_organization(
    org, other_org, make_org, monkeypatch
):
    dormant = make_org("dormant")
    dormant.is_active = False
    dormant.save()
    sent = []
    monkeypatch.setattr(tasks.sweep_organization, "delay", sent.append)
    assert tasks.sweep() == sorted([org.pk, other_org.pk])
    assert sent == sorted([org.pk, other_org.pk])


def test_a_broker_that_cannot_be_reached_loses_nothing(org, probe, monkeypatch, caplog):
    def unreachable(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    create(org)
    [event] = published(org)
    with monkeypatch.context() as patch:
        patch.setattr(tasks.deliver, "apply_async", unreachable)
        assert bus.dispatch([(org.pk, event.pk, event.stream, event.type)]) == 0
    assert "the sweep will send them" in caplog.text
    assert probe.seen == []

    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        assert tasks.sweep_organization(org.pk) == 1
    assert len(probe.seen) == 1


def test_purge_removes_complete_events_past_retention_only(org, probe, settings):
    settings.EVENTS_RETENTION_DAYS = 30
    create(org), create(org)
    [done, pending] = published(org)
    tasks.deliver(org.pk, done.pk, PROBE)  # the other one is never delivered: pending
    see(org)
    assert Event.objects.for_org(org).get(pk=done.pk).completed_at is not None

    with time_machine.travel(timezone.now() + timedelta(days=29), tick=False):
        assert tasks.purge_organization(org.pk) == 0
    with time_machine.travel(timezone.now() + timedelta(days=31), tick=False):
        assert tasks.purge_organization(org.pk) == 1
    see(org)
    assert list(Event.objects.for_org(org).values_list("pk", flat=True)) == [pending.pk]
    assert not Delivery.objects.for_org(org).exists()


def failing_block(org):
    with bus.collect():
        bus.publish(organization_id=org.pk, type="incident.created", stream="x", payload={})
        raise RuntimeError("the block failed")


def test_collected_events_are_written_together_in_order_or_not_at_all(org):
    incident = create(org)
    before = len(published(org))
    with bus.collect():
        services.incident_comment(organization=org, actor=None, incident=incident, body="a")
        services.incident_comment(organization=org, actor=None, incident=incident, body="b")
        assert len(published(org)) == before  # nothing written yet
    bodies = [e.payload["comment"]["body"] for e in published(org)[before:]]
    assert bodies == ["a", "b"]
    with pytest.raises(RuntimeError):
        failing_block(org)
    assert len(published(org)) == before + 2


def test_one_patch_locks_once_and_publishes_one_coherent_set(org, member, api_client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    responder = member(Role.RESPONDER)
    incident = create(org, responder)
    before = len(published(org))
    url = f"/api/v1/orgs/{org.slug}/incidents/{incident.number}/"
    client = api_client_for(responder)
    with CaptureQueriesContext(connection) as queries:
        response = client.patch(
            url,
            {
                "assignee": responder.username,
                "impact": 1,
                "priority": 2,
                "priority_reason": "Launch day",
                "status": "acknowledged",
                "note": "On it",
            },
        )
    assert response.status_code == 200, response.content
    if connection.features.has_select_for_update:  # SQLite locks the whole database
        locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
        assert len([sql for sql in locks if "incidents_incident" in sql]) == 1
    assert [e.type for e in published(org)[before:]] == [
        "incident.updated",
        "incident.assigned",
        "incident.priority_changed",
        "incident.priority_changed",
        "incident.status_changed",
    ]

    # A PATCH whose last part is refused leaves no part of it behind.
    refused = client.patch(url, {"title": "Renamed", "status": "closed"})
    assert refused.status_code == 409
    see(org)
    assert len(published(org)) == before + 5
    incident.refresh_from_db()
    assert incident.title == "Checkout fails"


@pytest.mark.db_owner  # deleting an organization is the owner's (the audit log stays)
def test_an_organizations_events_go_with_it(org, other_org, probe):
    create(org), create(other_org)
    [event] = published(org)
    tasks.deliver(org.pk, event.pk, PROBE)
    see(org, other_org)
    org.delete()
    see(other_org)
    assert not Event.objects.unscoped().filter(organization_id=org.pk).exists()
    assert not Delivery.objects.unscoped().filter(organization_id=org.pk).exists()
    assert Event.objects.for_org(other_org).count() == 1
