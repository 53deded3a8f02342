"""SLA: business-time arithmetic, targets, the clocks through the lifecycle, the periodic
check, the API and portal views of it, and tenant isolation of its configuration."""

import io
import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from incidents import services, sla_policy
from incidents.models import BusinessHours, Incident, SlaTarget, TimelineEntry
from incidents.sla import add_business_time, business_time_between, sla_refresh
from incidents.sla_policy import DEFAULT_TARGETS
from incidents.states import Status
from incidents.tasks import sla_check, sla_check_organization
from tenancy import rls
from tenancy.models import Role
from tests.conftest import see

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = [(weekday, time(9), time(17)) for weekday in range(5)]  # Mon-Fri 09:00-17:00
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
# Monday 2 March 2026, 09:00 UTC (the test organizations keep the default UTC timezone).
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# impact, urgency -> the design matrix's priority
CELLS = {1: (1, 1), 2: (1, 2), 3: (1, 3), 4: (2, 3), 5: (3, 3)}


def berlin(*args):
    return datetime(*args, tzinfo=BERLIN)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# --- arithmetic ----------------------------------------------------------------------------


def test_overnight_continues_next_morning():
    tuesday_4pm = berlin(2026, 3, 3, 16, 0)
    assert add_business_time(tuesday_4pm, 2 * H, OFFICE, BERLIN) == berlin(2026, 3, 4, 10, 0)
    assert business_time_between(tuesday_4pm, berlin(2026, 3, 4, 10, 0), OFFICE, BERLIN) == 2 * H


def test_weekend_is_skipped():
    friday_4pm = berlin(2026, 3, 6, 16, 0)
    assert add_business_time(friday_4pm, 2 * H, OFFICE, BERLIN) == berlin(2026, 3, 9, 10, 0)
    assert business_time_between(friday_4pm, berlin(2026, 3, 9, 10, 0), OFFICE, BERLIN) == 2 * H


def test_dst_spring_forward_in_berlin():
    # Clocks jump from 02:00 CET to 03:00 CEST on Sunday 29 March 2026.
    friday_4pm = berlin(2026, 3, 27, 16, 0)  # 15:00 UTC
    due = add_business_time(friday_4pm, 2 * H, OFFICE, BERLIN)
    assert due == berlin(2026, 3, 30, 10, 0)
    assert due == utc(2026, 3, 30, 8, 0)  # not 09:00 UTC: the offset changed on the way
    assert business_time_between(friday_4pm, due, OFFICE, BERLIN) == 2 * H
    # Business hours across the jump count the time that really passed.
    night = [(6, time(0), time(6))]  # Sunday 00:00-06:00 local holds only 5 hours that day
    assert business_time_between(
        berlin(2026, 3, 28, 12, 0), berlin(2026, 3, 30, 0, 0), night, BERLIN
    ) == (5 * H)
    assert add_business_time(berlin(2026, 3, 29, 1, 0), 2 * H, night, BERLIN) == berlin(
        2026, 3, 29, 4, 0
    )


def test_dst_fall_back_in_berlin():
    # 25 October 2026: 03:00 CEST -> 02:00 CET; Sunday 00:00-06:00 holds 7 hours.
    night = [(6, time(0), time(6))]
    assert business_time_between(
        berlin(2026, 10, 24, 12, 0), berlin(2026, 10, 26, 0, 0), night, BERLIN
    ) == (7 * H)


def test_start_outside_business_hours():
    saturday_noon = berlin(2026, 3, 7, 12, 0)
    assert add_business_time(saturday_noon, H, OFFICE, BERLIN) == berlin(2026, 3, 9, 10, 0)
    early_tuesday = berlin(2026, 3, 3, 7, 0)
    assert add_business_time(early_tuesday, H, OFFICE, BERLIN) == berlin(2026, 3, 3, 10, 0)
    late_tuesday = berlin(2026, 3, 3, 20, 0)
    assert add_business_time(late_tuesday, H, OFFICE, BERLIN) == berlin(2026, 3, 4, 10, 0)
    assert business_time_between(late_tuesday, berlin(2026, 3, 4, 8, 0), OFFICE, BERLIN) == (
        timedelta(0)
    )


def test_a_duration_that_ends_at_closing_time_is_due_at_closing_time():
    assert add_business_time(berlin(2026, 3, 2, 9, 0), 8 * H, OFFICE, BERLIN) == berlin(
        2026, 3, 2, 17, 0
    )


def test_split_and_overlapping_spans():
    calendar = [(0, time(8), time(12)), (0, time(13), time(17)), (0, time(11), time(12, 30))]
    monday = berlin(2026, 3, 2, 0, 0)
    assert business_time_between(monday, monday + 24 * H, calendar, BERLIN) == 8.5 * H
    assert add_business_time(berlin(2026, 3, 2, 12, 0), H, calendar, BERLIN) == berlin(
        2026, 3, 2, 13, 30
    )


@pytest.mark.parametrize("hours", [0, 0.5, 3, 8, 17, 41, 200])
def test_between_inverts_add(hours):
    for start in (berlin(2026, 3, 26, 15, 45), berlin(2026, 10, 23, 8, 0)):
        due = add_business_time(start, hours * H, OFFICE, BERLIN)
        assert business_time_between(start, due, OFFICE, BERLIN) == hours * H


def test_a_calendar_without_hours_is_an_error():
    with pytest.raises(ValueError, match="no business hours"):
        add_business_time(berlin(2026, 3, 2, 9, 0), H, [], BERLIN)


# --- targets and the incident's clocks -----------------------------------------------------


def at(moment):
    return time_machine.travel(moment, tick=False)


def check_at(moment, org):
    with at(moment):
        return sla_check_organization(org.pk)


def create(org, priority=3, moment=MONDAY, **fields):
    impact, urgency = CELLS[priority]
    with at(moment):
        return services.incident_create(
            organization=org,
            actor=None,
            title=fields.pop("title", "Broken"),
            impact=impact,
            urgency=urgency,
            **fields,
        )


def move(org, incident, status, moment):
    with at(moment):
        return services.incident_transition(
            organization=org,
            actor=None,
            incident=incident,
            status=status,
            resolution="Fixed it." if status == Status.RESOLVED else None,
        )


@pytest.mark.django_db
def test_new_organizations_get_default_targets_and_hours(org):
    targets = {
        t.priority: (t.time_to_acknowledge, t.time_to_resolve, t.business_hours_only)
        for t in SlaTarget.objects.for_org(org)
    }
    assert targets == DEFAULT_TARGETS
    assert targets[3] == (4 * H, 24 * H, True)  # 3 business days of 8 hours
    hours = BusinessHours.objects.for_org(org).values_list("weekday", "start", "end")
    assert sorted(hours) == OFFICE


EXPECTED = {  # created Monday 09:00 UTC: (response due, resolve due)
    1: (utc(2026, 3, 2, 9, 15), utc(2026, 3, 2, 13, 0)),
    2: (utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 17, 0)),
    3: (utc(2026, 3, 2, 13, 0), utc(2026, 3, 4, 17, 0)),  # 3 business days: Wednesday 17:00
    4: (utc(2026, 3, 2, 17, 0), utc(2026, 3, 6, 17, 0)),
    5: (utc(2026, 3, 3, 17, 0), utc(2026, 3, 13, 17, 0)),
}


@pytest.mark.django_db
@pytest.mark.parametrize("priority", sorted(EXPECTED))
def test_each_target(org, priority):
    incident = create(org, priority)
    assert incident.priority == priority
    incident.refresh_from_db()
    assert (incident.response_due_at, incident.resolve_due_at) == EXPECTED[priority]
    assert incident.sla_business_hours == (priority >= 3)
    assert not incident.response_breached
    assert not incident.resolve_breached


@pytest.mark.django_db
def test_business_targets_use_the_organizations_timezone(org):
    org.timezone = BERLIN
    org.save(update_fields=["timezone"])
    incident = create(org, 4, moment=berlin(2026, 3, 27, 16, 0))  # Friday before the DST jump
    assert incident.response_due_at == berlin(2026, 3, 30, 16, 0)  # 1 h Fri + 7 h Mon


@pytest.mark.django_db
def test_due_times_start_at_detection(org):
    incident = create(org, 1, detected_at=MONDAY - 10 * MIN, moment=MONDAY)
    assert incident.response_due_at == MONDAY + 5 * MIN
    old = create(org, 1, detected_at=MONDAY - 5 * H, moment=MONDAY)
    old.refresh_from_db()
    assert old.response_breached
    assert old.resolve_breached


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "minutes", "breached"),
    [
        (Status.ACKNOWLEDGED, 14, False),
        (Status.ACKNOWLEDGED, 16, True),
        (Status.IN_PROGRESS, 16, True),
        (Status.RESOLVED, 10, False),
        (Status.RESOLVED, 20, True),
    ],
)
def test_acknowledgement_stops_the_response_clock(org, status, minutes, breached):
    incident = create(org, 1)  # acknowledge within 15 minutes
    incident = move(org, incident, status, MONDAY + minutes * MIN)
    incident.refresh_from_db()
    assert incident.response_breached is breached
    # Stopped: later checks do not change it.
    check_at(MONDAY + 2 * H, org)
    incident.refresh_from_db()
    assert incident.response_breached is breached


def test_sla_refresh_is_pure():
    incident = Incident(
        status=Status.NEW, response_due_at=MONDAY, resolve_due_at=MONDAY + H, detected_at=MONDAY
    )
    assert sla_refresh(incident, MONDAY) == []
    assert sla_refresh(incident, MONDAY + 2 * H) == ["response_breached", "resolve_breached"]
    assert sla_refresh(incident, MONDAY + 3 * H) == []


@pytest.mark.django_db
def test_on_hold_is_not_an_acknowledgement(org):
    incident = create(org, 1)
    incident = move(org, incident, Status.ON_HOLD, MONDAY + 20 * MIN)
    incident.refresh_from_db()
    assert incident.response_breached
    assert not incident.resolve_breached


@pytest.mark.django_db
@pytest.mark.parametrize(("hours", "breached"), [(4, False), (4.5, True)])
def test_resolution_stops_the_resolve_clock(org, hours, breached):
    incident = create(org, 1)  # resolve within 4 hours
    incident = move(org, incident, Status.IN_PROGRESS, MONDAY + 5 * MIN)
    incident = move(org, incident, Status.RESOLVED, MONDAY + hours * H)
    incident.refresh_from_db()
    assert incident.resolve_breached is breached
    assert check_at(MONDAY + 10 * H, org) == 0


@pytest.mark.django_db
def test_on_hold_extends_the_due_time_by_the_paused_business_time(org):
    incident = create(org, 3)  # resolve due Wednesday 17:00
    incident = move(org, incident, Status.IN_PROGRESS, MONDAY + 10 * MIN)
    incident = move(org, incident, Status.ON_HOLD, utc(2026, 3, 2, 16, 0))
    incident.refresh_from_db()
    assert incident.sla_paused_at == utc(2026, 3, 2, 16, 0)
    assert incident.resolve_due_at == utc(2026, 3, 4, 17, 0)
    incident = move(org, incident, Status.IN_PROGRESS, utc(2026, 3, 3, 11, 0))
    incident.refresh_from_db()
    # Monday 16-17 and Tuesday 9-11: three business hours, not the 19 on the wall clock.
    assert incident.sla_paused_at is None
    assert incident.sla_paused_seconds == 3 * 3600
    assert incident.resolve_due_at == utc(2026, 3, 5, 12, 0)


@pytest.mark.django_db
def test_on_hold_24x7_extends_by_the_wall_clock(org):
    incident = create(org, 2)  # resolve due 17:00
    incident = move(org, incident, Status.ON_HOLD, MONDAY + H)
    incident = move(org, incident, Status.IN_PROGRESS, MONDAY + 15 * H)
    incident.refresh_from_db()
    assert incident.sla_paused_seconds == 14 * 3600
    assert incident.resolve_due_at == utc(2026, 3, 3, 7, 0)


@pytest.mark.django_db
def test_a_paused_clock_does_not_breach(org):
    incident = create(org, 2)
    incident = move(org, incident, Status.IN_PROGRESS, MONDAY + MIN)
    incident = move(org, incident, Status.ON_HOLD, MONDAY + H)
    assert check_at(MONDAY + 20 * H, org) == 0
    incident.refresh_from_db()
    assert not incident.resolve_breached


@pytest.mark.django_db
def test_priority_change_while_paused_keeps_the_credit_and_stays_paused(org):
    incident = create(org, 3)
    incident = move(org, incident, Status.ON_HOLD, utc(2026, 3, 2, 10, 0))
    incident = move(org, incident, Status.IN_PROGRESS, utc(2026, 3, 2, 12, 0))  # 2 h credit
    incident = move(org, incident, Status.ON_HOLD, utc(2026, 3, 2, 14, 0))
    with at(utc(2026, 3, 2, 15, 0)):
        incident = services.incident_override_priority(
            organization=org, actor=None, incident=incident, priority=4, reason="Workaround"
        )
    incident.refresh_from_db()
    assert incident.sla_paused_at == utc(2026, 3, 2, 14, 0)  # still paused
    assert incident.sla_paused_seconds == 2 * 3600
    # start + 5 business days + 2 h credit: Monday 9 March, 11:00
    assert incident.resolve_due_at == utc(2026, 3, 9, 11, 0)
    # Acknowledged (in progress) at 12:00, in time: the response clock stays settled.
    assert incident.response_due_at == utc(2026, 3, 2, 13, 0)
    assert not incident.response_breached
    incident = move(org, incident, Status.IN_PROGRESS, utc(2026, 3, 3, 10, 0))
    incident.refresh_from_db()
    assert incident.sla_paused_seconds == 6 * 3600  # + Monday 14-17 and Tuesday 9-10
    assert incident.resolve_due_at == utc(2026, 3, 9, 15, 0)


@pytest.mark.django_db
def test_recomputed_priority_retargets(org):
    incident = create(org, 2)
    with at(MONDAY + 5 * MIN):
        incident = services.incident_update(
            organization=org, actor=None, incident=incident, urgency=1
        )
    incident.refresh_from_db()
    assert incident.priority == 1
    assert incident.response_due_at == MONDAY + 15 * MIN
    assert incident.resolve_due_at == MONDAY + 4 * H


@pytest.mark.django_db
def test_acknowledged_response_is_not_retargeted(org):
    incident = create(org, 2)
    incident = move(org, incident, Status.ACKNOWLEDGED, MONDAY + 20 * MIN)
    with at(MONDAY + H):
        incident = services.incident_update(
            organization=org, actor=None, incident=incident, urgency=1
        )
    incident.refresh_from_db()
    assert incident.response_due_at == MONDAY + 30 * MIN
    assert not incident.response_breached
    assert incident.resolve_due_at == MONDAY + 4 * H


@pytest.mark.django_db
def test_reopening_resumes_from_the_time_used(org):
    incident = create(org, 2)  # 8 h, 24x7
    incident = move(org, incident, Status.IN_PROGRESS, MONDAY + MIN)
    incident = move(org, incident, Status.RESOLVED, MONDAY + 2 * H)  # 2 h used
    incident = move(org, incident, Status.IN_PROGRESS, utc(2026, 3, 3, 9, 0))  # reopened
    incident.refresh_from_db()
    assert incident.resolve_due_at == utc(2026, 3, 3, 15, 0)  # 6 h left, not 8, not 0
    assert incident.sla_paused_seconds == 22 * 3600
    assert not incident.resolve_breached
    incident = move(org, incident, Status.RESOLVED, utc(2026, 3, 3, 14, 0))
    incident.refresh_from_db()
    assert not incident.resolve_breached


@pytest.mark.django_db
def test_resolving_from_hold_and_reopening_does_not_double_count(org):
    incident = create(org, 2)
    incident = move(org, incident, Status.ON_HOLD, MONDAY + H)  # 1 h used
    incident = move(org, incident, Status.RESOLVED, MONDAY + 3 * H)
    incident.refresh_from_db()
    assert incident.sla_paused_at is None
    assert incident.resolve_due_at == MONDAY + 10 * H
    incident = move(org, incident, Status.IN_PROGRESS, MONDAY + 4 * H)
    incident.refresh_from_db()
    assert incident.sla_paused_seconds == 3 * 3600
    assert incident.resolve_due_at == MONDAY + 11 * H  # 7 h left from 13:00


@pytest.mark.django_db
def test_no_target_means_no_due_times(org):
    SlaTarget.objects.for_org(org).filter(priority=5).delete()
    incident = create(org, 5)
    incident.refresh_from_db()
    assert incident.response_due_at is None
    assert incident.resolve_due_at is None
    assert check_at(MONDAY + 1000 * H, org) == 0


# --- the periodic check --------------------------------------------------------------------


@pytest.mark.django_db
def test_sla_check_marks_breaches_once_and_ignores_closed_ones(org, other_org):
    late = create(org, 1, title="Late")
    acked = move(org, create(org, 1, title="Acked"), Status.ACKNOWLEDGED, MONDAY + 5 * MIN)
    cancelled = move(org, create(org, 1, title="Cancelled"), Status.CANCELLED, MONDAY + MIN)
    closed = move(org, create(org, 1, title="Closed"), Status.RESOLVED, MONDAY + 2 * MIN)
    closed = move(org, closed, Status.CLOSED, MONDAY + 3 * MIN)
    theirs = create(other_org, 2, title="Theirs")

    assert check_at(MONDAY + 10 * MIN, org) == 0
    assert check_at(MONDAY + 20 * MIN, org) == 1
    see(org, other_org)
    late.refresh_from_db()
    assert late.response_breached
    assert not late.resolve_breached
    assert check_at(MONDAY + 20 * MIN, org) == 0  # idempotent

    assert check_at(MONDAY + 9 * H, org) == 2  # late and acked resolve
    see(org, other_org)
    theirs.refresh_from_db()
    assert not theirs.response_breached  # another organization's task marks theirs
    assert check_at(MONDAY + 9 * H, other_org) == 1  # theirs both
    see(org, other_org)
    for incident in (late, acked, cancelled, closed, theirs):
        incident.refresh_from_db()
    assert late.resolve_breached
    assert acked.resolve_breached
    assert not acked.response_breached
    assert theirs.response_breached
    assert theirs.resolve_breached
    for done in (cancelled, closed):
        assert not done.response_breached
        assert not done.resolve_breached
    entries = TimelineEntry.objects.for_org(org).filter(
        incident=late, kind=TimelineEntry.Kind.FIELD_CHANGED
    )
    assert sorted(e.data["field"] for e in entries) == ["resolve_breached", "response_breached"]
    assert {e.actor_label for e in entries} == {"system"}


@pytest.mark.django_db
def test_sla_check_sends_one_task_per_active_organization(org, other_org, make_org):
    dormant = make_org("initech")
    ours, theirs, idle = create(org, 1), create(other_org, 1), create(dormant, 1)
    dormant.is_active = False
    dormant.save()
    with at(MONDAY + 20 * MIN):
        assert sla_check() == [org.pk, other_org.pk]
    see(org, other_org, dormant)
    for incident in (ours, theirs, idle):
        incident.refresh_from_db()
    assert ours.response_breached
    assert theirs.response_breached
    assert not idle.response_breached


@pytest.mark.django_db
def test_sla_check_works_in_batches(org):
    for _ in range(5):
        create(org, 1)
    with at(MONDAY + 20 * MIN):
        assert sla_policy.check_organization(org.pk, batch=2) == 5
    assert Incident.objects.for_org(org).filter(response_breached=True).count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sla_check_skips_incidents_another_worker_holds(org):
    held, free = create(org, 1, title="Held"), create(org, 1, title="Free")
    locked, release, errors = threading.Event(), threading.Event(), []

    def other_worker():
        try:
            with rls.tenant_context(org.pk):
                Incident.objects.for_org(org).select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        with at(MONDAY + 20 * MIN):
            assert sla_policy.check_organization(org.pk) == 1
    finally:
        release.set()
        thread.join()
    assert errors == []
    with rls.tenant_context(org.pk):
        free.refresh_from_db()
    assert free.response_breached
    with at(MONDAY + 20 * MIN):
        assert sla_policy.check_organization(org.pk) == 1  # the next run
    with rls.tenant_context(org.pk):
        held.refresh_from_db()
    assert held.response_breached


@pytest.mark.django_db
def test_demo_incidents_get_due_times():
    call_command("seed_demo", stdout=io.StringIO())
    incidents = Incident.objects.unscoped().all()
    assert incidents.exists()
    assert not incidents.filter(resolve_due_at__isnull=True).exists()
    assert incidents.filter(sla_paused_at__isnull=False, status=Status.ON_HOLD).exists()


# --- API, portal and admin -----------------------------------------------------------------


@pytest.mark.django_db
def test_api_shows_the_sla(api_client_for, member, org):
    incident = create(org, 2)
    incident = move(org, incident, Status.ON_HOLD, MONDAY + H)
    with at(MONDAY + 2 * H):
        response = api_client_for(member(Role.RESPONDER)).get(
            reverse("incident-detail", kwargs={"org": org.slug, "number": incident.number})
        )
    assert response.status_code == 200
    assert response.json()["sla"] == {
        "response_due_at": "2026-03-02T09:30:00Z",
        "resolve_due_at": "2026-03-02T17:00:00Z",
        "response_breached": True,
        "resolve_breached": False,
        "paused": True,
    }


@pytest.mark.django_db
def test_portal_shows_sla_badges(client_for, member, org):
    running = create(org, 3, title="Running")  # acknowledge by 13:00
    late = create(org, 1, title="Late")
    held = move(org, create(org, 3, title="Held"), Status.IN_PROGRESS, MONDAY + MIN)
    held = move(org, held, Status.ON_HOLD, MONDAY + 2 * MIN)
    check_at(MONDAY + H, org)
    client = client_for(member(Role.RESPONDER))
    with at(MONDAY + 70 * MIN):
        page = client.get(reverse("incidents:detail", args=[org.slug, running.number]))
        queue = client.get(reverse("incidents:queue", args=[org.slug]))
    assert "Response due in 2\xa0hours" in page.content.decode()
    content = queue.content.decode()
    assert '<th scope="col">SLA</th>' in content
    assert "SLA breached" in content
    assert "SLA paused (on hold)" in content
    with at(MONDAY + 70 * MIN):
        page = client.get(reverse("incidents:detail", args=[org.slug, late.number]))
    assert "Response SLA breached" in page.content.decode()


def admin_url(obj, view="change"):
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


@pytest.mark.django_db
def test_sla_admin_is_isolated_per_organization(client_for, member, org, other_org):
    client = client_for(member(Role.OWNER))
    theirs = [
        SlaTarget.objects.for_org(other_org).get(priority=1),
        BusinessHours.objects.for_org(other_org).first(),
    ]
    for obj in theirs:
        for view in ("change", "delete", "history"):
            assert client.get(admin_url(obj, view)).status_code == 404, (obj, view)
    ours = SlaTarget.objects.for_org(org).get(priority=1)
    assert client.get(admin_url(ours)).status_code == 200
    hours = BusinessHours.objects.for_org(org).first()
    assert client.get(admin_url(hours)).status_code == 200
    for model in (SlaTarget, BusinessHours):
        changelist = reverse(f"admin:incidents_{model._meta.model_name}_changelist")
        response = client.get(changelist)
        assert response.status_code == 200
        assert response.context["cl"].result_count == 5
        assert {o.organization_id for o in response.context["cl"].result_list} == {org.pk}


@pytest.mark.django_db
def test_sla_admin_is_for_admins_only(client_for, member, org):
    client = client_for(member(Role.RESPONDER))
    ours = SlaTarget.objects.for_org(org).get(priority=1)
    assert client.get(admin_url(ours)).status_code in (302, 403, 404)


@pytest.mark.django_db
def test_incident_admin_shows_sla_read_only(client_for, member, org):
    incident = create(org, 1)
    client = client_for(member(Role.ADMIN))
    response = client.get(admin_url(incident))
    assert response.status_code == 200
    form = response.context["adminform"].form
    for field in ("response_due_at", "resolve_due_at", "response_breached", "sla_paused_at"):
        assert field not in form.fields
    assert "Response due at" in response.content.decode()
