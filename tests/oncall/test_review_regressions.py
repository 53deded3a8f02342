"""What a review of the engine found, kept found: a broken target stops nothing else, an
ex-member acknowledges nothing, a schedule a policy pages is not deleted from under it,
past overrides count for a past moment, and out-of-range times are a 400, not a 500."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from core.errors import Forbidden
from incidents.models import Incident, TimelineEntry
from incidents.states import Status
from oncall import targets
from oncall.models import Page
from oncall.services import escalations, pages, policies, schedules
from tenancy import rls
from tenancy import services as tenancy_services
from tenancy.models import Membership, Role
from tests.oncall.engine_helpers import (
    committed,
    make_policy,
    make_service,
    open_incident,
    paged,
)
from tests.oncall.test_ack_link import link_in

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(member):
    return {name: member(Role.RESPONDER, username=name) for name in ("alice", "bob")}


@pytest.fixture
def weekly(org, people):
    return schedules.schedule_create(
        organization=org,
        actor=None,
        name="Primary",
        layers=[
            {
                "name": "Weekly",
                "rotation_start": date(2026, 1, 5),
                "shift_unit": "weeks",
                "participants": ["alice"],
            }
        ],
    )


def test_a_target_that_cannot_be_resolved_pages_nobody_and_the_rest_go_on(
    org, people, weekly, clock, django_capture_on_commit_callbacks, monkeypatch
):
    policy = make_policy(org, "Checkout", [{"schedules": [weekly], "users": [people["bob"]]}])
    incident = open_incident(
        org, django_capture_on_commit_callbacks, service=make_service(org, "web", policy=policy)
    )
    real = targets.Resolver.resolve

    def broken(resolver, target, at):
        if target["kind"] == "schedule":
            raise OverflowError("date value out of range")
        return real(resolver, target, at)

    monkeypatch.setattr(targets.Resolver, "resolve", broken)
    assert escalations.escalations_tick(organization_id=org.pk) == 1
    assert paged(incident) == [("bob", 0, 0)]
    with rls.tenant_context(org.pk):
        notes = TimelineEntry.objects.for_org(org).filter(incident=incident)
        assert any("could not be resolved" in entry.body for entry in notes)


def test_a_rotation_start_out_of_range_is_a_field_error(org, member, api_client_for):
    client = api_client_for(member(Role.ADMIN))
    layer = {"name": "Old", "rotation_start": "0001-01-01", "shift_unit": "hours"}
    response = client.post(
        reverse("schedule-list", kwargs={"org": org.slug}),
        {"name": "Ancient", "time_zone": "Asia/Tokyo", "layers": [layer]},
        format="json",
    )
    assert response.status_code == 400
    assert "layers" in response.json()


def test_someone_who_left_acknowledges_nothing(
    client, org, people, clock, django_capture_on_commit_callbacks, mailoutbox
):
    policy = make_policy(org, "Checkout", [{"users": [people["alice"]]}])
    incident = open_incident(
        org, django_capture_on_commit_callbacks, service=make_service(org, "web", policy=policy)
    )
    with committed(django_capture_on_commit_callbacks):
        escalations.escalations_tick(organization_id=org.pk)
    path = link_in(mailoutbox[0])
    with rls.tenant_context(org.pk):
        membership = Membership.objects.for_org(org).get(user=people["alice"])
        page = Page.objects.for_org(org).get()
    tenancy_services.membership_remove(organization=org, actor=None, membership=membership)

    with pytest.raises(Forbidden):
        pages.page_acknowledge(organization=org, actor=people["alice"], page=page)
    assert client.post(path).status_code >= 400
    with rls.tenant_context(org.pk):
        assert Incident.objects.for_org(org).get(pk=incident.pk).status == Status.NEW


def test_a_schedule_a_policy_pages_is_not_deleted(org, member, api_client_for, weekly):
    policies.policy_create(
        organization=org,
        actor=None,
        name="Checkout",
        steps=[{"delay_minutes": 5, "schedules": [weekly.pk]}],
    )
    client = api_client_for(member(Role.ADMIN))
    url = reverse("schedule-detail", kwargs={"org": org.slug, "pk": weekly.pk})
    refused = client.delete(url)
    assert refused.status_code == 409
    assert "Checkout" in str(refused.json())
    assert client.get(url).status_code == 200


def test_a_step_whose_targets_were_deleted_says_it_pages_nobody(
    org, people, clock, django_capture_on_commit_callbacks
):
    policy = make_policy(org, "Checkout", [{"users": [people["alice"]]}])
    with rls.tenant_context(org.pk):
        policy.steps.get().targets.all().delete()
    incident = open_incident(
        org, django_capture_on_commit_callbacks, service=make_service(org, "web", policy=policy)
    )
    escalations.escalations_tick(organization_id=org.pk)
    with rls.tenant_context(org.pk):
        bodies = [e.body for e in TimelineEntry.objects.for_org(org).filter(incident=incident)]
    assert any("names nobody" in body for body in bodies)


def test_a_past_moment_counts_the_overrides_running_then(
    org, people, member, api_client_for, weekly
):
    now = datetime.now(UTC)
    schedules.override_create(
        organization=org,
        actor=None,
        schedule=weekly,
        user=people["bob"],
        start=now - timedelta(days=2),
        end=now - timedelta(hours=1),
    )
    client = api_client_for(member(Role.RESPONDER))
    url = reverse("schedule-oncall", kwargs={"org": org.slug, "pk": weekly.pk})
    yesterday = (now - timedelta(days=1)).isoformat()
    assert client.get(url, {"at": yesterday}).json()["users"] == ["bob"]
    shifts = reverse("schedule-shifts", kwargs={"org": org.slug, "pk": weekly.pk})
    answer = client.get(shifts, {"start": (now - timedelta(days=2)).isoformat()}).json()
    assert answer[0]["users"] == ["bob"]


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("schedule-oncall", {"at": "9999-12-31T23:00:00Z"}),
        ("schedule-oncall", {"at": "0001-01-01T00:00:00Z"}),
        ("schedule-shifts", {"start": "9999-12-30T00:00:00Z"}),
        ("schedule-shifts", {"start": "0001-01-01T00:00:00Z", "end": "0001-01-03T00:00:00Z"}),
    ],
)
def test_times_out_of_range_are_a_400(org, member, api_client_for, weekly, name, query):
    client = api_client_for(member(Role.RESPONDER))
    response = client.get(reverse(name, kwargs={"org": org.slug, "pk": weekly.pk}), query)
    assert response.status_code == 400
    assert set(response.json()) <= {"at", "start", "end"}


def test_the_portal_preview_refuses_a_time_out_of_range(org, people, client_for):
    policy = make_policy(org, "Checkout", [{"users": [people["alice"]]}])
    url = reverse("oncall:policy", args=[org.slug, policy.pk])
    page = client_for(people["alice"]).get(url, {"at": "9999-12-31T23:59"})
    assert page.status_code == 200
    assert page.context["form"].errors["at"]
