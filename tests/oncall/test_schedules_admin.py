"""Schedules in the admin: pages, saving through the services, other organizations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse

from oncall.models import Layer, Override, Schedule, Swap
from oncall.services import schedules as services
from tenancy.models import AuditEvent, Role
from tests.admin_forms import shown
from tests.conftest import see

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def admin_url(model, view="changelist", *args):
    return reverse(f"admin:oncall_{model._meta.model_name}_{view}", args=args)


def make_world(organization, member):
    """A schedule where alice is on call, with an override and an offered swap."""
    alice = member(Role.RESPONDER, organization=organization)
    bob = member(Role.RESPONDER, organization=organization)
    layer = {
        "name": "Primary",
        "rotation_start": date(2026, 1, 5),
        "participants": [alice.username],
    }
    schedule = services.schedule_create(
        organization=organization, actor=None, name=f"{organization.slug} primary", layers=[layer]
    )
    override = services.override_create(
        organization=organization,
        actor=None,
        schedule=schedule,
        user=bob,
        start=datetime(2026, 1, 9, tzinfo=UTC),
        end=datetime(2026, 1, 10, tzinfo=UTC),
    )
    swap = services.swap_offer(
        organization=organization,
        actor=alice,
        schedule=schedule,
        start=datetime(2026, 1, 8, tzinfo=UTC),
        end=datetime(2026, 1, 8, 6, tzinfo=UTC),
    )
    return {"alice": alice, "schedule": schedule, "override": override, "swap": swap}


def test_pages_render_with_who_is_on_call_now(client_for, member, org):
    world = make_world(org, member)
    client = client_for(member(Role.ADMIN))
    schedule = world["schedule"]

    for model in (Schedule, Override, Swap):
        assert client.get(admin_url(model)).status_code == 200
    page = client.get(admin_url(Schedule, "change", schedule.pk))
    assert page.status_code == 200
    text = page.content.decode()
    assert "On call now" in text
    assert world["alice"].username in text
    rotation = page.context["inline_admin_formsets"][0].formset.forms[0]["participants"]
    assert rotation.value() == world["alice"].username
    for model, obj in ((Override, world["override"]), (Swap, world["swap"])):
        assert client.get(admin_url(model, "change", obj.pk)).status_code == 200


def test_another_organizations_admin_gets_404(client_for, member, org, other_org):
    world = make_world(org, member)
    client = client_for(member(Role.ADMIN, organization=other_org))
    for model, obj in (
        (Schedule, world["schedule"]),
        (Override, world["override"]),
        (Swap, world["swap"]),
    ):
        assert client.get(admin_url(model, "change", obj.pk)).status_code == 404, model
    assert world["schedule"].name not in client.get(admin_url(Schedule)).content.decode()


def new_schedule(org, **layer) -> dict:
    fields = {
        "name": "Primary",
        "position": 0,
        "rotation_start": "2026-01-05",
        "handoff_time": "09:00",
        "shift_length": 1,
        "shift_unit": "weeks",
        "restrictions": "[]",
        **layer,
    }
    return {
        "organization": org.pk,
        "name": "Database",
        "description": "",
        "time_zone": "Europe/Berlin",
        "layers-TOTAL_FORMS": 1,
        "layers-INITIAL_FORMS": 0,
        **{f"layers-0-{field}": value for field, value in fields.items()},
    }


def rotation(schedule) -> list[list[str]]:
    see(schedule.organization)
    layers = Layer.objects.for_org(schedule.organization).filter(schedule=schedule)
    return [
        [p.user.username for p in layer.participants.order_by("position")]
        for layer in layers.order_by("position")
    ]


def test_a_schedule_added_in_the_admin_goes_through_the_service(client_for, member, org):
    alice = member(Role.RESPONDER, username="alice")
    bob = member(Role.RESPONDER, username="bob")
    client = client_for(member(Role.ADMIN))
    response = client.post(
        admin_url(Schedule, "add"), new_schedule(org, participants="bob, alice,, bob ")
    )
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    see(org)
    schedule = Schedule.objects.for_org(org).get(name="Database")
    assert str(schedule.time_zone) == "Europe/Berlin"
    assert schedule.layers.get().name == "Primary"
    assert rotation(schedule) == [[bob.username, alice.username, bob.username]]
    [created] = AuditEvent.objects.for_org(org).filter(action="schedule.created")
    assert created.after["layers"][0]["participants"] == ["bob", "alice", "bob"]


def test_the_rotation_is_reordered_on_the_schedules_page(client_for, member, org):
    world = make_world(org, member)
    carol = member(Role.RESPONDER, username="carol")
    client = client_for(member(Role.ADMIN))
    path = admin_url(Schedule, "change", world["schedule"].pk)
    rotation_field = "layers-0-participants"
    response = client.post(
        path, shown(client.get(path), **{rotation_field: f"carol, {world['alice'].username}"})
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    assert rotation(world["schedule"]) == [[carol.username, world["alice"].username]]
    see(org)
    assert AuditEvent.objects.for_org(org).filter(action="schedule.layers_replaced").exists()
    assert Override.objects.for_org(org).count() == 1, "overrides stay"


def test_a_rotation_names_only_the_organizations_members(client_for, member, org, other_org):
    world = make_world(org, member)
    stranger = member(Role.RESPONDER, organization=other_org, username="stranger")
    client = client_for(member(Role.ADMIN))
    path = admin_url(Schedule, "change", world["schedule"].pk)
    refused = client.post(path, shown(client.get(path), **{"layers-0-participants": "stranger"}))
    assert refused.status_code == 200
    row = refused.context["inline_admin_formsets"][0].formset.forms[0]
    assert "Not a member of this organization: stranger." in row.errors["participants"]
    assert rotation(world["schedule"]) == [[world["alice"].username]]
    added = client.post(
        admin_url(Schedule, "add"), new_schedule(org, participants=stranger.username)
    )
    assert added.status_code == 200
    [row] = added.context["inline_admin_formsets"][0].formset.forms
    assert "Not a member of this organization: stranger." in row.errors["participants"]
    see(org)
    assert not Schedule.objects.for_org(org).filter(name="Database").exists()


def test_an_override_with_a_backwards_span_is_refused_on_the_form(client_for, member, org):
    world = make_world(org, member)
    client = client_for(member(Role.ADMIN))
    path = admin_url(Override, "change", world["override"].pk)
    data = shown(client.get(path), end_0="2026-01-08", end_1="00:00:00")

    response = client.post(path, data)

    assert response.status_code == 200
    assert 'class="errornote"' in response.content.decode()
    see(org)
    assert Override.objects.for_org(org).get().end == datetime(2026, 1, 10, tzinfo=UTC)


def test_offers_are_withdrawn_with_an_admin_action(client_for, member, org):
    world = make_world(org, member)
    client = client_for(member(Role.ADMIN))
    client.post(
        admin_url(Swap),
        {"action": "cancel_offers", "_selected_action": [world["swap"].pk]},
    )
    see(org)
    assert Swap.objects.for_org(org).get().status == Swap.Status.CANCELLED


def test_two_layers_in_one_position_are_refused_on_the_form(client_for, member, org):
    world = make_world(org, member)
    client = client_for(member(Role.ADMIN))
    path = admin_url(Schedule, "change", world["schedule"].pk)
    data = shown(
        client.get(path),
        **{
            "layers-TOTAL_FORMS": 2,
            "layers-1-name": "Shadow",
            "layers-1-position": 0,
            "layers-1-rotation_start": "2026-01-05",
            "layers-1-handoff_time": "09:00",
            "layers-1-shift_length": 1,
            "layers-1-shift_unit": "weeks",
            "layers-1-restrictions": "[]",
        },
    )
    response = client.post(path, data)
    assert response.status_code == 200
    see(org)
    assert Layer.objects.for_org(org).count() == 1
