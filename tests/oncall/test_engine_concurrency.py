"""Ticks at once on PostgreSQL: two ticks of one organization share its due escalations
and page nobody twice; an incident locked by a change in flight is left for the next
tick instead of waited for."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from events.models import Event
from incidents import services as incident_services
from incidents.models import Incident, TimelineEntry
from oncall.models import Escalation, Page
from oncall.services import escalations
from tenancy import rls
from tenancy.models import Role
from tests.oncall.engine_helpers import make_policy, make_service, make_team

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

INCIDENTS = 120  # more than two batches


def _open_many(org, member, count):
    people = [member(Role.RESPONDER, username=f"p{n}") for n in range(3)]
    team = make_team(org, "all", people)
    policy = make_policy(org, "Everyone", [{"delay": 5, "teams": [team]}] * 2)
    service = make_service(org, "svc", policy=policy)
    opened = [
        incident_services.incident_create(
            organization=org, actor=None, title=f"I{n}", service=service
        )
        for n in range(count)
    ]
    return opened


def _run_at_once(functions) -> list:
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)
    errors: list = []

    def run(index, function):
        try:
            barrier.wait()
            results[index] = function()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_two_ticks_at_once_page_everyone_once(org, member):
    incidents = _open_many(org, member, INCIDENTS)  # started at commit (eager delivery)
    with rls.tenant_context(org.pk):
        assert Escalation.objects.for_org(org).filter(state="active").count() == INCIDENTS

    def tick():
        return escalations.escalations_tick(organization_id=org.pk)

    advanced = _run_at_once([tick, tick])
    assert sum(advanced) == INCIDENTS
    with rls.tenant_context(org.pk):
        assert set(Escalation.objects.for_org(org).values_list("step", flat=True)) == {1}
        pages = Page.objects.for_org(org).count()
        assert pages == 3 * len(incidents)
        assert Event.objects.for_org(org).filter(type="page.created").count() == pages
        assert (
            TimelineEntry.objects.for_org(org)
            .filter(kind=TimelineEntry.Kind.NOTIFICATION, data__has_key="page")
            .count()
            == pages
        )


def test_an_incident_being_changed_is_skipped_not_waited_for(org, member):
    locked, free = _open_many(org, member, 2)
    holding = threading.Event()
    release = threading.Event()

    def hold_the_incident():
        with rls.tenant_context(org.pk):
            Incident.objects.for_org(org).select_for_update().get(pk=locked.pk)
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=lambda: (hold_the_incident(), connection.close()))
    holder.start()
    assert holding.wait(10)
    started = time.monotonic()
    try:
        assert escalations.escalations_tick(organization_id=org.pk) == 1
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join(30)
    with rls.tenant_context(org.pk):
        assert Page.objects.for_org(org).filter(incident=locked).count() == 0
        assert Page.objects.for_org(org).filter(incident=free).count() == 3
    assert escalations.escalations_tick(organization_id=org.pk) == 1  # its turn now
    with transaction.atomic():
        rls.set_tenant([org.pk])
        assert Page.objects.for_org(org).filter(incident=locked).count() == 3
