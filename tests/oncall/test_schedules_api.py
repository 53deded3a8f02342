"""/api/v1/orgs/<org>/schedules/…: schedules, on call, shifts, overrides and swaps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from oncall.models import Layer, Override, Schedule, Swap
from oncall.services import schedules as services
from tenancy.models import AuditEvent, Role
from tests.conftest import see

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)  # a Wednesday, in alice's first week
# Session, user, membership and the tenant setting (PostgreSQL), then the list itself.
QUERY_BUDGET = 12


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def url(org, name, **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


def layer(*usernames, **fields):
    return {
        "name": "Primary",
        "rotation_start": "2026-01-05",
        "handoff_time": "09:00",
        "shift_unit": "weeks",
        "shift_length": 1,
        "participants": list(usernames),
        **fields,
    }


@pytest.fixture
def team(member):
    """alice and bob rotate weekly on "Primary"; carol is another responder."""
    return {name: member(Role.RESPONDER, username=name) for name in ("alice", "bob", "carol")}


@pytest.fixture
def primary(org, team):
    return services.schedule_create(
        organization=org,
        actor=None,
        name="Primary",
        time_zone="Europe/Berlin",
        layers=[layer("alice", "bob")],
    )


def test_admins_create_a_schedule_with_layers(api_client_for, member, org, team):
    client = api_client_for(member(Role.ADMIN))
    body = {
        "name": "Payments",
        "time_zone": "America/New_York",
        "layers": [
            layer("alice", "bob"),
            layer(
                "carol",
                name="Nights",
                position=2,
                restrictions=[{"days": ["mon"], "start": "22:00", "end": "06:00"}],
            ),
        ],
    }
    response = client.post(url(org, "schedule-list"), body, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["time_zone"] == "America/New_York"
    assert [(x["name"], x["position"], x["participants"]) for x in data["layers"]] == [
        ("Primary", 0, ["alice", "bob"]),
        ("Nights", 2, ["carol"]),
    ]
    assert data["layers"][1]["restrictions"][0]["start"] == "22:00"
    see(org)
    assert AuditEvent.objects.for_org(org).filter(action="schedule.created").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "layers": [layer("alice", "mallory")]}, "layers"),
        ({"name": "X", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "X", "layers": [layer("alice", shift_unit="fortnights")]}, "layers"),
        ({"name": "X", "layers": [layer("alice", restrictions=[{"start": "9"}])]}, "layers"),
        ({"name": "X", "layers": [layer("alice", position=1), layer("bob", position=1)]}, "layers"),
        ({"name": "X", "team": "nope"}, "team"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_schedules_are_refused_whole(api_client_for, member, org, team, other_org, body, field):
    member(Role.RESPONDER, organization=other_org, username="mallory")
    client = api_client_for(member(Role.ADMIN))

    response = client.post(url(org, "schedule-list"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    see(org)
    assert not Schedule.objects.for_org(org).exists()
    assert not Layer.objects.for_org(org).exists()


def test_a_duplicate_name_is_a_conflict(api_client_for, member, org, primary):
    response = api_client_for(member(Role.ADMIN)).post(
        url(org, "schedule-list"), {"name": "Primary"}, format="json"
    )
    assert response.status_code == 409
    assert "name" in response.json()


def test_patch_replaces_layers_only_when_given(api_client_for, member, org, primary):
    client = api_client_for(member(Role.ADMIN))
    detail = url(org, "schedule-detail", pk=primary.pk)

    renamed = client.patch(detail, {"description": "Checkout"}, format="json").json()
    assert renamed["description"] == "Checkout"
    assert renamed["layers"][0]["participants"] == ["alice", "bob"]

    replaced = client.patch(detail, {"layers": [layer("carol")]}, format="json").json()
    assert [x["participants"] for x in replaced["layers"]] == [["carol"]]
    assert client.get(url(org, "schedule-oncall", pk=primary.pk)).json()["users"] == ["carol"]


def test_only_admins_change_schedules(api_client_for, member, org, primary):
    for role in (Role.RESPONDER, Role.STAKEHOLDER):
        client = api_client_for(member(role))
        assert client.get(url(org, "schedule-detail", pk=primary.pk)).status_code == 200
        assert (
            client.post(url(org, "schedule-list"), {"name": "Y"}, format="json").status_code == 403
        )
        assert client.delete(url(org, "schedule-detail", pk=primary.pk)).status_code == 403
    reporter = api_client_for(member(Role.REPORTER))
    assert reporter.get(url(org, "schedule-list")).status_code == 403
    assert reporter.get(url(org, "schedule-oncall", pk=primary.pk)).status_code == 403

    admin = api_client_for(member(Role.ADMIN))
    assert admin.delete(url(org, "schedule-detail", pk=primary.pk)).status_code == 204
    see(org)
    assert not Schedule.objects.for_org(org).exists()


def test_who_is_on_call(api_client_for, member, org, primary):
    client = api_client_for(member(Role.STAKEHOLDER))
    oncall = url(org, "schedule-oncall", pk=primary.pk)

    assert client.get(oncall).json() == {"users": ["alice"], "until": "2026-01-12T08:00:00Z"}
    later = client.get(oncall, {"at": "2026-01-13T00:00:00+01:00"}).json()
    assert later["users"] == ["bob"]
    bad = client.get(oncall, {"at": "yesterday"})
    assert bad.status_code == 400
    assert "at" in bad.json()


def test_shifts_over_a_range(api_client_for, member, org, primary):
    client = api_client_for(member(Role.RESPONDER))
    shifts = url(org, "schedule-shifts", pk=primary.pk)

    response = client.get(shifts, {"start": "2026-01-01T00:00:00Z", "end": "2026-01-20T00:00:00Z"})
    assert response.json() == [
        {"start": "2026-01-01T00:00:00Z", "end": "2026-01-05T08:00:00Z", "users": []},
        {"start": "2026-01-05T08:00:00Z", "end": "2026-01-12T08:00:00Z", "users": ["alice"]},
        {"start": "2026-01-12T08:00:00Z", "end": "2026-01-19T08:00:00Z", "users": ["bob"]},
        {"start": "2026-01-19T08:00:00Z", "end": "2026-01-20T00:00:00Z", "users": ["alice"]},
    ]
    too_long = client.get(shifts, {"start": "2026-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"})
    assert too_long.status_code == 400
    assert "end" in too_long.json()
    backwards = client.get(shifts, {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"})
    assert backwards.status_code == 400


def test_responders_add_and_remove_overrides(api_client_for, member, org, primary, team):
    client = api_client_for(team["carol"])
    overrides = url(org, "schedule-override-list", schedule=primary.pk)
    body = {"user": "carol", "start": "2026-01-07T10:00:00Z", "end": "2026-01-07T14:00:00Z"}

    created = client.post(overrides, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["created_by"] == "carol"
    assert client.get(url(org, "schedule-oncall", pk=primary.pk)).json()["users"] == ["carol"]
    assert [o["user"] for o in client.get(overrides).json()["results"]] == ["carol"]

    stakeholder = api_client_for(member(Role.STAKEHOLDER))
    assert stakeholder.post(overrides, body, format="json").status_code == 403
    pk = created.json()["id"]
    detail = url(org, "schedule-override-detail", schedule=primary.pk, pk=pk)
    assert client.delete(detail).status_code == 204
    assert client.get(url(org, "schedule-oncall", pk=primary.pk)).json()["users"] == ["alice"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"user": "mallory"}, "user"),
        ({"end": "2026-01-07T09:00:00Z"}, "end"),
        ({"start": "nope"}, "start"),
        ({"end": "2028-01-07T09:00:00Z"}, "end"),
    ],
)
def test_bad_overrides_are_refused(
    api_client_for, org, other_org, member, primary, team, changes, field
):
    member(Role.RESPONDER, organization=other_org, username="mallory")
    body = {"user": "carol", "start": "2026-01-07T10:00:00Z", "end": "2026-01-07T14:00:00Z"}
    response = api_client_for(team["carol"]).post(
        url(org, "schedule-override-list", schedule=primary.pk), {**body, **changes}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    see(org)
    assert not Override.objects.for_org(org).exists()


def test_a_swap_offered_taken_and_refused_twice(api_client_for, member, org, primary, team):
    swaps = url(org, "schedule-swap-list", schedule=primary.pk)
    shift = {"start": "2026-01-08T08:00:00Z", "end": "2026-01-09T08:00:00Z", "note": "dentist"}

    offered = api_client_for(team["alice"]).post(swaps, shift, format="json")
    assert offered.status_code == 201, offered.json()
    assert offered.json()["offered_by"] == "alice"
    swap = offered.json()["id"]

    accepted = api_client_for(team["carol"]).post(
        url(org, "schedule-swap-accept", schedule=primary.pk, pk=swap)
    )
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["taken_by"] == "carol"
    oncall = api_client_for(team["bob"]).get(
        url(org, "schedule-oncall", pk=primary.pk), {"at": "2026-01-08T12:00:00Z"}
    )
    assert oncall.json() == {"users": ["carol"], "until": "2026-01-09T08:00:00Z"}
    see(org)
    assert Override.objects.for_org(org).get().swap.pk == swap

    again = api_client_for(team["bob"]).post(
        url(org, "schedule-swap-accept", schedule=primary.pk, pk=swap)
    )
    assert again.status_code == 409
    assert "status" in again.json()


def test_only_your_own_shift_is_yours_to_offer(api_client_for, member, org, primary, team):
    swaps = url(org, "schedule-swap-list", schedule=primary.pk)
    bobs_week = {"start": "2026-01-12T08:00:00Z", "end": "2026-01-13T08:00:00Z"}

    refused = api_client_for(team["alice"]).post(swaps, bobs_week, format="json")
    assert refused.status_code == 400
    assert "start" in refused.json()
    for_bob = api_client_for(team["alice"]).post(swaps, {**bobs_week, "offered_by": "bob"})
    assert for_bob.status_code == 403
    admin = api_client_for(member(Role.ADMIN))
    assert admin.post(swaps, {**bobs_week, "offered_by": "bob"}).status_code == 201
    see(org)
    assert Swap.objects.for_org(org).get().offered_by == team["bob"]


def test_the_offerer_or_an_admin_cancels(api_client_for, member, org, primary, team):
    swaps = url(org, "schedule-swap-list", schedule=primary.pk)
    shift = {"start": "2026-01-08T08:00:00Z", "end": "2026-01-09T08:00:00Z"}
    swap = api_client_for(team["alice"]).post(swaps, shift).json()["id"]
    cancel = url(org, "schedule-swap-cancel", schedule=primary.pk, pk=swap)

    assert api_client_for(team["carol"]).post(cancel).status_code == 403
    cancelled = api_client_for(team["alice"]).post(cancel)
    assert cancelled.json()["status"] == "cancelled"
    accept = url(org, "schedule-swap-accept", schedule=primary.pk, pk=swap)
    assert api_client_for(team["carol"]).post(accept).status_code == 409

    another = api_client_for(team["alice"]).post(swaps, shift).json()["id"]
    admin = api_client_for(member(Role.ADMIN))
    assert (
        admin.post(url(org, "schedule-swap-cancel", schedule=primary.pk, pk=another)).status_code
        == 200
    )


def _routes(org, schedule, override, swap):
    detail = {"pk": schedule.pk}
    child = {"schedule": schedule.pk}
    return [
        ("get", url(org, "schedule-detail", **detail)),
        ("patch", url(org, "schedule-detail", **detail)),
        ("delete", url(org, "schedule-detail", **detail)),
        ("get", url(org, "schedule-oncall", **detail)),
        ("get", url(org, "schedule-shifts", **detail)),
        ("post", url(org, "schedule-import-calendar", **detail)),
        ("get", url(org, "schedule-ical", schedule=schedule.pk)),
        ("get", url(org, "schedule-override-list", **child)),
        ("post", url(org, "schedule-override-list", **child)),
        ("delete", url(org, "schedule-override-detail", pk=override.pk, **child)),
        ("get", url(org, "schedule-swap-list", **child)),
        ("post", url(org, "schedule-swap-list", **child)),
        ("get", url(org, "schedule-swap-detail", pk=swap.pk, **child)),
        ("post", url(org, "schedule-swap-accept", pk=swap.pk, **child)),
        ("post", url(org, "schedule-swap-cancel", pk=swap.pk, **child)),
    ]


@pytest.mark.parametrize("principal", ["member", "api key"])
def test_another_organization_sees_nothing(
    api_client_for, api_key_for, member, org, other_org, primary, team, principal
):
    override = services.override_create(
        organization=org,
        actor=None,
        schedule=primary,
        user=team["carol"],
        start=datetime(2026, 1, 8, tzinfo=UTC),
        end=datetime(2026, 1, 9, tzinfo=UTC),
    )
    swap = services.swap_offer(
        organization=org,
        actor=team["alice"],
        schedule=primary,
        start=datetime(2026, 1, 10, tzinfo=UTC),
        end=datetime(2026, 1, 11, tzinfo=UTC),
    )
    if principal == "member":
        client = api_client_for(member(Role.OWNER, organization=other_org))
    else:
        client = api_client_for(api_key_for(Role.OWNER, organization=other_org))
    routes = _routes(org, primary, override, swap)
    owner = api_client_for(member(Role.OWNER))
    for path in [path for method, path in routes if method == "get"]:
        assert owner.get(path).status_code == 200, path  # the routes exist
    for method, path in routes:
        foreign = path.replace(f"/orgs/{org.slug}/", f"/orgs/{other_org.slug}/")
        assert getattr(client, method)(path).status_code == 404, (method, path)
        assert getattr(client, method)(foreign).status_code == 404, (method, foreign)
    assert client.get(url(other_org, "schedule-list")).json()["results"] == []
    see(org)
    assert Schedule.objects.for_org(org).filter(pk=primary.pk).exists()
    assert Swap.objects.for_org(org).get().status == Swap.Status.OFFERED


@pytest.mark.parametrize("page_size", [1, 50])
def test_lists_issue_a_constant_number_of_queries(
    api_client_for, member, org, team, page_size, django_assert_max_num_queries
):
    users = [team["alice"], team["bob"], team["carol"]]
    for index in range(55):
        schedule = services.schedule_create(
            organization=org,
            actor=None,
            name=f"S{index:02}",
            layers=[layer("alice", "bob"), layer("carol", position=1)],
        )
        services.override_create(
            organization=org,
            actor=None,
            schedule=schedule,
            user=users[index % 3],
            start=datetime(2026, 1, 8, tzinfo=UTC),
            end=datetime(2026, 1, 9, tzinfo=UTC),
        )
    for index in range(55):
        services.override_create(
            organization=org,
            actor=None,
            schedule=schedule,
            user=users[index % 3],
            start=datetime(2026, 1, 10, index % 20, tzinfo=UTC),
            end=datetime(2026, 1, 11, tzinfo=UTC),
        )
        services.swap_offer(
            organization=org,
            actor=team["carol"],  # the higher layer
            schedule=schedule,
            start=datetime(2026, 1, 7, 13, tzinfo=UTC),
            end=datetime(2026, 1, 7, 14, tzinfo=UTC),
        )
    client = api_client_for(member(Role.RESPONDER))
    paths = [
        url(org, "schedule-list"),
        url(org, "schedule-override-list", schedule=schedule.pk),
        url(org, "schedule-swap-list", schedule=schedule.pk),
    ]
    for path in paths:
        with django_assert_max_num_queries(QUERY_BUDGET):
            response = client.get(path, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size, path


def test_the_routes_are_in_the_openapi_schema(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    prefix = "/api/v1/orgs/{org}/"
    for path in (
        "schedules/",
        "schedules/{id}/",
        "schedules/{id}/oncall/",
        "schedules/{id}/shifts/",
        "schedules/{id}/import/",
        "schedules/{schedule}/ical/",
        "schedules/{schedule}/overrides/",
        "schedules/{schedule}/swaps/{id}/accept/",
        "my-shifts/ical/",
        "my-shifts/ical-token/",
    ):
        assert prefix + path in paths, path
