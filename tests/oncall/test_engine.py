"""The escalation engine with frozen time: when steps page, repeats, round robin, the
snapshot, what stops and restarts an escalation, and running anything twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext

from events.models import Event
from incidents import services as incident_services
from incidents.models import TimelineEntry
from incidents.states import Status
from oncall.models import Escalation, EscalationPolicy, Page, Step
from oncall.services import escalations
from tenancy import rls
from tenancy.models import Role
from tests.oncall.engine_helpers import (
    committed,
    escalation_of,
    make_policy,
    make_service,
    make_team,
    open_incident,
    paged,
    use_for_team,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(member):
    return {name: member(Role.RESPONDER, username=name) for name in ("alice", "bob", "carol")}


def tick(org) -> int:
    return escalations.escalations_tick(organization_id=org.pk)


@pytest.fixture
def two_steps(org, people):
    policy = make_policy(
        org,
        "Checkout",
        [{"delay": 10, "users": [people["alice"]]}, {"delay": 15, "users": [people["bob"]]}],
    )
    return make_service(org, "checkout", policy=policy)


def test_steps_page_when_due_and_the_last_one_exhausts_it(
    org, two_steps, clock, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks, service=two_steps)
    assert escalation_of(incident).next_escalation_at == T0

    assert tick(org) == 1
    assert paged(incident) == [("alice", 0, 0)]
    assert escalation_of(incident).next_escalation_at == T0 + timedelta(minutes=10)

    clock.move_to(T0 + timedelta(minutes=10) - timedelta(seconds=1))
    assert tick(org) == 0
    clock.move_to(T0 + timedelta(minutes=10))
    assert tick(org) == 1
    assert paged(incident) == [("alice", 0, 0), ("bob", 1, 0)]

    with rls.tenant_context(org.pk):
        escalation = Escalation.objects.for_org(org).get(incident=incident)
    assert escalation.state == Escalation.State.EXHAUSTED
    assert escalation.next_escalation_at is None
    clock.move_to(T0 + timedelta(hours=2))
    assert tick(org) == 0
    assert len(paged(incident)) == 2


def test_repeats_run_the_policy_again_then_stop(
    org, people, clock, django_capture_on_commit_callbacks
):
    policy = make_policy(org, "Loop", [{"delay": 5, "users": [people["alice"]]}], repeat=2)
    service = make_service(org, "loop", policy=policy)
    incident = open_incident(org, django_capture_on_commit_callbacks, service=service)
    for minute in (0, 5, 10, 15, 20):
        clock.move_to(T0 + timedelta(minutes=minute))
        tick(org)
    assert paged(incident) == [("alice", 0, 0), ("alice", 0, 1), ("alice", 0, 2)]


def test_round_robin_takes_turns_across_incidents(
    org, people, clock, django_capture_on_commit_callbacks
):
    team = make_team(org, "payments", [people["carol"], people["alice"], people["bob"]])
    policy = make_policy(org, "Turns", [{"delay": 5, "teams": [team], "round_robin": True}])
    service = make_service(org, "pay", policy=policy)
    incidents = [
        open_incident(org, django_capture_on_commit_callbacks, service=service) for _ in range(4)
    ]
    tick(org)
    # A team's members in username order; each incident pages the next one.
    assert [paged(incident) for incident in incidents] == [
        [("alice", 0, 0)],
        [("bob", 0, 0)],
        [("carol", 0, 0)],
        [("alice", 0, 0)],
    ]


def test_round_robin_of_a_deleted_step_turns_by_repeat(
    org, people, clock, django_capture_on_commit_callbacks
):
    team = make_team(org, "payments", [people["alice"], people["bob"]])
    policy = make_policy(
        org, "Turns", [{"delay": 5, "teams": [team], "round_robin": True}], repeat=1
    )
    service = make_service(org, "pay", policy=policy)
    incident = open_incident(org, django_capture_on_commit_callbacks, service=service)
    with rls.tenant_context(org.pk):
        Step.objects.for_org(org).filter(policy=policy).delete()
    tick(org)
    clock.move_to(T0 + timedelta(minutes=5))
    tick(org)
    assert paged(incident) == [("alice", 0, 0), ("bob", 0, 1)]


def test_the_snapshot_runs_after_the_policy_is_edited_and_deleted(
    org, people, two_steps, clock, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks, service=two_steps)
    policy = EscalationPolicy.objects.for_org(org).get(name="Checkout")
    before = escalation_of(incident).snapshot
    with rls.tenant_context(org.pk):
        Step.objects.for_org(org).filter(policy=policy, position=0).update(delay_minutes=60)
        Step.objects.for_org(org).filter(policy=policy, position=1).delete()
    tick(org)
    assert escalation_of(incident).snapshot == before
    assert escalation_of(incident).next_escalation_at == T0 + timedelta(minutes=10)
    with rls.tenant_context(org.pk):
        policy.delete()
    clock.move_to(T0 + timedelta(minutes=10))
    tick(org)
    assert paged(incident) == [("alice", 0, 0), ("bob", 1, 0)]
    assert before["steps"][1]["targets"] == [
        {"kind": "user", "id": people["bob"].pk, "name": "bob"}
    ]


def test_deleted_targets_page_nobody_and_the_timeline_says_so(
    org, people, clock, django_capture_on_commit_callbacks
):
    team = make_team(org, "gone", [people["bob"]])
    policy = make_policy(org, "P", [{"delay": 5, "teams": [team], "users": [people["alice"]]}])
    service = make_service(org, "svc", policy=policy)
    incident = open_incident(org, django_capture_on_commit_callbacks, service=service)
    with rls.tenant_context(org.pk):
        team.delete()
    tick(org)
    assert paged(incident) == [("alice", 0, 0)]
    with rls.tenant_context(org.pk):
        notes = list(
            TimelineEntry.objects.for_org(org)
            .filter(incident=incident, kind=TimelineEntry.Kind.NOTIFICATION)
            .values_list("body", flat=True)
        )
    assert "Step 1: team Gone no longer exists; it pages nobody." in notes
    assert any(body.startswith("Paged alice") for body in notes)


def test_acknowledging_one_second_before_a_step_is_due_stops_it(
    org, people, two_steps, clock, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks, service=two_steps)
    tick(org)
    clock.move_to(T0 + timedelta(minutes=10) - timedelta(seconds=1))
    with committed(django_capture_on_commit_callbacks):
        incident_services.incident_transition(
            organization=org, actor=people["alice"], incident=incident, status=Status.ACKNOWLEDGED
        )
    clock.move_to(T0 + timedelta(minutes=10))
    assert tick(org) == 0
    assert paged(incident) == [("alice", 0, 0)]
    with rls.tenant_context(org.pk):
        escalation = Escalation.objects.for_org(org).get(incident=incident)
        page = Page.objects.for_org(org).get(incident=incident)
    assert escalation.state == Escalation.State.ACKNOWLEDGED
    assert escalation.next_escalation_at is None
    assert escalation.ended_at == T0 + timedelta(minutes=10) - timedelta(seconds=1)
    assert (page.status, page.acknowledged_at) == (
        Page.Status.ACKNOWLEDGED,
        T0 + timedelta(minutes=10) - timedelta(seconds=1),
    )


def test_someone_elses_acknowledgement_closes_the_pages(
    org, people, two_steps, clock, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks, service=two_steps)
    tick(org)
    with committed(django_capture_on_commit_callbacks):
        incident_services.incident_transition(
            organization=org,
            actor=people["carol"],
            incident=incident,
            status=Status.RESOLVED,
            resolution="Rolled back.",
        )
    with rls.tenant_context(org.pk):
        assert Escalation.objects.for_org(org).get(incident=incident).state == "resolved"
        assert Page.objects.for_org(org).get(incident=incident).status == Page.Status.CLOSED


def test_an_incident_acknowledged_before_the_event_arrives_does_not_escalate(
    org, people, two_steps, clock, django_capture_on_commit_callbacks
):
    incident = incident_services.incident_create(
        organization=org, actor=None, title="Fast", service=two_steps
    )  # its event is not delivered yet
    incident_services.incident_transition(
        organization=org, actor=people["bob"], incident=incident, status=Status.ACKNOWLEDGED
    )
    with rls.tenant_context(org.pk):
        event = Event.objects.for_org(org).get(
            type="incident.created", payload__incident__id=incident.pk
        )
        escalations.escalation_start_for_new(event)
        assert not Escalation.objects.for_org(org).filter(incident=incident).exists()


def test_starting_twice_from_the_same_event_starts_once(
    org, two_steps, clock, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks, service=two_steps)
    with rls.tenant_context(org.pk):
        event = Event.objects.for_org(org).get(
            type="incident.created", payload__incident__id=incident.pk
        )
        escalations.escalation_start_for_new(event)
        escalations.escalation_start_for_new(event)
        assert Escalation.objects.for_org(org).filter(incident=incident).count() == 1


def test_the_service_policy_wins_over_the_team_and_none_means_no_escalation(
    org, people, two_steps, clock, django_capture_on_commit_callbacks
):
    team = make_team(org, "ops", [people["carol"]])
    use_for_team(org, team, make_policy(org, "Ops", [{"delay": 5, "teams": [team]}]))
    with_service = open_incident(
        org, django_capture_on_commit_callbacks, service=two_steps, team=team
    )
    team_only = open_incident(org, django_capture_on_commit_callbacks, team=team)
    nothing = open_incident(org, django_capture_on_commit_callbacks)
    assert escalation_of(with_service).snapshot["name"] == "Checkout"
    assert escalation_of(team_only).snapshot["name"] == "Ops"
    with rls.tenant_context(org.pk):
        assert not Escalation.objects.for_org(org).filter(incident=nothing).exists()


def test_moving_to_another_team_replaces_the_escalation_once(
    org, people, clock, django_capture_on_commit_callbacks
):
    ops = make_team(org, "ops", [people["alice"]])
    web = make_team(org, "web", [people["bob"]])
    use_for_team(org, ops, make_policy(org, "Ops", [{"delay": 5, "teams": [ops]}] * 2))
    use_for_team(org, web, make_policy(org, "Web", [{"delay": 5, "teams": [web]}]))
    incident = open_incident(org, django_capture_on_commit_callbacks, team=ops)
    tick(org)
    clock.move_to(T0 + timedelta(minutes=1))
    with committed(django_capture_on_commit_callbacks):
        incident_services.incident_update(
            organization=org, actor=people["carol"], incident=incident, team=web
        )
    with rls.tenant_context(org.pk):
        states = dict(
            Escalation.objects.for_org(org)
            .filter(incident=incident)
            .values_list("snapshot__name", "state")
        )
        assert states == {"Ops": "replaced", "Web": "active"}
        event = Event.objects.for_org(org).get(type="incident.assigned")
        escalations.escalation_follow_team(event)  # delivered again: nothing changes
        assert Escalation.objects.for_org(org).filter(incident=incident).count() == 2
    tick(org)
    assert paged(incident) == [("alice", 0, 0), ("bob", 0, 0)]


def test_a_repeated_tick_on_the_same_step_writes_nothing_twice(
    org, two_steps, clock, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks, service=two_steps)
    tick(org)
    # A tick that ran but whose move on was lost: the step is due again as it was.
    with rls.tenant_context(org.pk):
        Escalation.objects.for_org(org).filter(incident=incident).update(
            step=0, next_escalation_at=T0
        )
    tick(org)
    assert paged(incident) == [("alice", 0, 0)]
    with rls.tenant_context(org.pk):
        assert Event.objects.for_org(org).filter(type="page.created").count() == 1, (
            "no second event for a page already written"
        )


def test_escalating_now_pages_the_next_step_at_once(
    org, people, two_steps, clock, django_capture_on_commit_callbacks
):
    incident = open_incident(org, django_capture_on_commit_callbacks, service=two_steps)
    tick(org)
    clock.move_to(T0 + timedelta(minutes=2))
    escalations.escalation_escalate_now(organization=org, actor=people["carol"], incident=incident)
    assert paged(incident) == [("alice", 0, 0), ("bob", 1, 0)]


def test_a_schedule_pages_whoever_is_on_call_when_the_step_is_due(
    org, people, make_schedule, clock, django_capture_on_commit_callbacks
):
    schedule = make_schedule(
        layers=[{"users": [people["alice"], people["bob"]], "shift_unit": "weeks"}],
        overrides=[(people["carol"], T0, T0 + timedelta(hours=1))],
        time_zone="UTC",
    )
    policy = make_policy(org, "Rota", [{"delay": 60, "schedules": [schedule]}] * 2)
    incident = open_incident(
        org, django_capture_on_commit_callbacks, service=make_service(org, "rota", policy=policy)
    )
    tick(org)
    clock.move_to(T0 + timedelta(hours=1))
    tick(org)
    # Carol covers the first hour; then the layer's week (the 9th since 5 January: alice).
    assert paged(incident) == [("carol", 0, 0), ("alice", 1, 0)]
    with rls.tenant_context(org.pk):
        reasons = list(
            Page.objects.for_org(org)
            .filter(incident=incident)
            .order_by("pk")
            .values_list("reason", flat=True)
        )
    assert reasons == [f"Step 1: schedule {schedule.name}", f"Step 2: schedule {schedule.name}"]


def _due(org, count: int, service) -> list:
    """``count`` new incidents on ``service`` whose escalations are due now."""
    incidents = []
    for n in range(count):
        incidents.append(
            incident_services.incident_create(
                organization=org, actor=None, title=f"Disk {n}", service=service
            )
        )
        escalations.escalation_start(organization=org, incident=incidents[-1])
    return incidents


def test_a_batch_of_due_escalations_takes_the_same_queries_for_2_or_20(
    org, people, make_schedule, clock, django_assert_num_queries
):
    schedule = make_schedule(layers=[{"users": [people["carol"]]}], time_zone="UTC")
    team = make_team(org, "storage", [people["bob"]])
    step = {"delay": 5, "users": [people["alice"]], "teams": [team], "schedules": [schedule]}
    policy = make_policy(org, "Disks", [step] * 2)
    few = _due(org, 2, make_service(org, "disks", policy=policy))
    with CaptureQueriesContext(connection) as two:
        assert tick(org) == 2
    many = _due(org, 20, few[0].service)
    with django_assert_num_queries(len(two)):
        assert tick(org) == 20
    expected = [("alice", 0, 0), ("bob", 0, 0), ("carol", 0, 0)]
    assert all(paged(incident) == expected for incident in few + many)


@pytest.mark.parametrize(
    "snapshot",
    [
        {"steps": [{}]},
        {"steps": ["a step"]},
        {"steps": [{"delay_minutes": 5, "targets": ["a target"]}]},
        {"steps": [{"delay_minutes": 5, "targets": [{"kind": "user"}]}]},
        {"steps": [{"id": "x", "round_robin": True, "targets": "all"}]},
        {"steps": "all"},
        ["a list"],
    ],
)
def test_an_escalation_that_cannot_be_decided_leaves_the_rest_of_its_batch_paged(
    org, two_steps, clock, snapshot
):
    first, broken, last = _due(org, 3, two_steps)
    with rls.tenant_context(org.pk):
        Escalation.objects.for_org(org).filter(incident=broken).update(snapshot=snapshot)
    assert tick(org) == 2
    assert paged(first) == paged(last) == [("alice", 0, 0)]
    assert paged(broken) == []
    assert escalation_of(broken).next_escalation_at == T0, "still due: the next tick tries"


def test_an_escalation_that_fails_takes_no_round_robin_turn(org, people, clock):
    team = make_team(org, "payments", [people["alice"], people["bob"], people["carol"]])
    policy = make_policy(org, "Turns", [{"delay": 5, "teams": [team], "round_robin": True}])
    first, broken, last = _due(org, 3, make_service(org, "pay", policy=policy))
    with rls.tenant_context(org.pk):
        escalation = Escalation.objects.for_org(org).get(incident=broken)
        del escalation.snapshot["steps"][0]["delay_minutes"]
        escalation.save(update_fields=["snapshot"])
    assert tick(org) == 2
    assert [paged(first), paged(last)] == [[("alice", 0, 0)], [("bob", 0, 0)]]
    assert Step.objects.for_org(org).get(policy=policy).round_robin_next == 2


def test_a_batch_that_fails_to_write_is_written_one_escalation_at_a_time(
    org, two_steps, clock, monkeypatch
):
    first, poisoned, last = _due(org, 3, two_steps)
    real = escalations.pages_write_many

    def fails_once_written_with_the_poisoned(requests, **kwargs):
        pages = real(requests, **kwargs)  # written, then the batch fails
        if any(request.incident.pk == poisoned.pk for request in requests):
            raise DataError("value too long")
        return pages

    monkeypatch.setattr(escalations, "pages_write_many", fails_once_written_with_the_poisoned)
    assert tick(org) == 2
    assert paged(first) == paged(last) == [("alice", 0, 0)]
    assert paged(poisoned) == []
    assert escalation_of(poisoned).step == 0
    assert escalation_of(first).step == escalation_of(last).step == 1
    with rls.tenant_context(org.pk):
        events = Event.objects.for_org(org).filter(type="page.created")
        assert sorted(e.payload["incident"]["id"] for e in events) == [first.pk, last.pk]
        notes = TimelineEntry.objects.for_org(org).filter(kind=TimelineEntry.Kind.NOTIFICATION)
        assert notes.count() == 2, "the failed batch's entries were rolled back"


def test_only_people_who_can_acknowledge_are_paged(org, people, member, make_schedule, clock):
    watcher = member(Role.STAKEHOLDER, username="watcher")
    team = make_team(org, "support", [watcher, people["bob"]])
    rota = make_schedule(layers=[{"users": [watcher]}], time_zone="UTC", name="Rota")
    policy = make_policy(org, "Mixed", [{"teams": [team], "schedules": [rota]}])
    [incident] = _due(org, 1, make_service(org, "mixed", policy=policy))
    tick(org)
    assert paged(incident) == [("bob", 0, 0)]
    with rls.tenant_context(org.pk):
        notes = set(
            TimelineEntry.objects.for_org(org)
            .filter(incident=incident, data__nobody=True)
            .values_list("body", flat=True)
        )
    assert {note for note in notes if note.startswith("Step")} == {
        "Step 1: schedule Rota has no responder on call; it pages nobody."
    }
