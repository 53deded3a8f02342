"""Escalations and pages in the API: escalate, page, the incident's pages, my pages and
acknowledging one; another organization's user or key gets 404 on every route."""

from __future__ import annotations

import pytest

from incidents.states import Status
from oncall.models import Escalation, Page
from oncall.services import escalations
from tenancy import rls
from tenancy.models import Role
from tests.oncall.engine_helpers import (
    make_policy,
    make_service,
    make_team,
    open_incident,
    paged,
)

BASE = "/api/v1/orgs"


@pytest.fixture
def people(member):
    return {name: member(Role.RESPONDER, username=name) for name in ("alice", "bob", "carol")}


@pytest.fixture
def incident(org, people, django_capture_on_commit_callbacks):
    policy = make_policy(
        org, "Checkout", [{"delay": 10, "users": [people["alice"]]}, {"users": [people["bob"]]}]
    )
    service = make_service(org, "checkout", policy=policy)
    opened = open_incident(org, django_capture_on_commit_callbacks, service=service)
    escalations.escalations_tick(organization_id=org.pk)
    return opened


def routes(org, incident, page_id) -> list[tuple[str, str, dict]]:
    prefix = f"{BASE}/{org.slug}"
    return [
        ("post", f"{prefix}/incidents/{incident.number}/escalate/", {}),
        ("post", f"{prefix}/incidents/{incident.number}/page/", {"team": 1}),
        ("get", f"{prefix}/incidents/{incident.number}/pages/", {}),
        ("get", f"{prefix}/pages/", {}),
        ("post", f"{prefix}/pages/{page_id}/acknowledge/", {}),
    ]


def alice_page(org, incident) -> Page:
    with rls.tenant_context(org.pk):
        return Page.objects.for_org(org).get(incident=incident, recipient__username="alice")


def test_another_organizations_user_and_key_get_404_and_nothing_else(
    api_client_for, member, api_key_for, org, other_org, incident
):
    outsider = member(Role.OWNER, organization=other_org)
    key = api_key_for(Role.ADMIN, organization=other_org)
    page = alice_page(org, incident)
    for principal in (outsider, key):
        client = api_client_for(principal)
        for method, url, data in routes(org, incident, page.pk):
            response = getattr(client, method)(url, data, format="json")
            assert response.status_code == 404, (principal, url)
            assert b"alice" not in response.content
    assert paged(incident) == [("alice", 0, 0)]
    with rls.tenant_context(org.pk):
        assert Page.objects.for_org(org).get(pk=page.pk).status == Page.Status.OPEN


def test_reporters_see_no_pages(api_client_for, member, org, incident):
    client = api_client_for(member(Role.REPORTER))
    prefix = f"{BASE}/{org.slug}"
    for url in ("escalate", "page", "pages"):
        assert client.post(f"{prefix}/incidents/{incident.number}/{url}/").status_code in (
            404,
            405,
        )
    assert client.get(f"{prefix}/incidents/{incident.number}/pages/").status_code == 404
    assert client.get(f"{prefix}/pages/").status_code == 403


def test_stakeholders_read_pages_but_do_not_page(api_client_for, member, org, incident):
    client = api_client_for(member(Role.STAKEHOLDER))
    prefix = f"{BASE}/{org.slug}/incidents/{incident.number}"
    assert client.get(f"{prefix}/pages/").status_code == 200
    assert client.post(f"{prefix}/escalate/").status_code == 403
    assert client.post(f"{prefix}/page/", {"user": 1}, format="json").status_code == 403


def test_the_incident_pages_list(api_client_for, org, people, incident):
    body = (
        api_client_for(people["carol"])
        .get(f"{BASE}/{org.slug}/incidents/{incident.number}/pages/")
        .json()
    )
    [row] = body["results"]
    assert row["recipient"] == "alice"
    assert (row["status"], row["step"], row["repeat"]) == ("open", 0, 0)
    assert row["reason"] == "Step 1: user alice"
    assert row["acknowledged_at"] is None


def test_escalate_pages_the_next_step(api_client_for, org, people, incident):
    response = api_client_for(people["carol"]).post(
        f"{BASE}/{org.slug}/incidents/{incident.number}/escalate/"
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "exhausted"
    assert paged(incident) == [("alice", 0, 0), ("bob", 1, 0)]


def test_page_someone_by_user_or_team(api_client_for, org, people, incident, member):
    team = make_team(org, "db", [people["bob"], people["carol"]])
    client = api_client_for(people["alice"])
    url = f"{BASE}/{org.slug}/incidents/{incident.number}/page/"
    response = client.post(url, {"team": team.pk}, format="json")
    assert response.status_code == 201, response.content
    assert [row["recipient"] for row in response.json()] == ["bob", "carol"]
    assert {row["sent_by"] for row in response.json()} == {"alice"}
    with rls.tenant_context(org.pk):
        assert Page.objects.for_org(org).filter(sent_by=people["alice"]).count() == 2


def test_page_bad_input_answers_400_with_field_errors(
    api_client_for, org, other_org, people, incident, make_user
):
    client = api_client_for(people["alice"])
    url = f"{BASE}/{org.slug}/incidents/{incident.number}/page/"
    stranger = make_user("stranger")  # not a member here
    foreign_team = make_team(other_org, "secret", [])
    for data, field in (
        ({}, "non_field_errors"),
        ({"user": people["bob"].pk, "team": 1}, "non_field_errors"),
        ({"user": "x"}, "user"),
        ({"user": stranger.pk}, "user"),
        ({"team": foreign_team.pk}, "team"),
        ({"schedule": 10**30}, "schedule"),
    ):
        response = client.post(url, data, format="json")
        assert response.status_code == 400, data
        assert field in response.json(), (data, response.json())


def test_my_pages_and_acknowledging_my_own(api_client_for, org, people, incident):
    page = alice_page(org, incident)
    prefix = f"{BASE}/{org.slug}/pages"
    assert api_client_for(people["bob"]).get(f"{prefix}/").json()["results"] == []
    assert api_client_for(people["bob"]).post(f"{prefix}/{page.pk}/acknowledge/").status_code == 404
    client = api_client_for(people["alice"])
    assert [
        row["id"] for row in client.get(f"{prefix}/", {"status": "open"}).json()["results"]
    ] == [page.pk]
    assert client.get(f"{prefix}/", {"status": "nope"}).status_code == 400
    response = client.post(f"{prefix}/{page.pk}/acknowledge/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "acknowledged"
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    with rls.tenant_context(org.pk):
        assert Escalation.objects.for_org(org).get(incident=incident).state == "acknowledged"
    assert client.get(f"{prefix}/", {"status": "open"}).json()["results"] == []
    assert client.post(f"{prefix}/{page.pk}/acknowledge/").status_code == 200  # again: same
    assert client.post(f"{prefix}/99999999999999999999/acknowledge/").status_code == 404


@pytest.mark.parametrize("page_size", [1, 50])
def test_page_lists_query_count_is_constant(
    api_client_for, org, people, incident, page_size, django_assert_max_num_queries
):
    team = make_team(org, "many", [people["alice"]])
    client = api_client_for(people["alice"])
    for _ in range(60):
        client.post(
            f"{BASE}/{org.slug}/incidents/{incident.number}/page/", {"team": team.pk}, format="json"
        )
    for url in (f"incidents/{incident.number}/pages/", "pages/"):
        with django_assert_max_num_queries(12):
            response = client.get(f"{BASE}/{org.slug}/{url}", {"page_size": page_size})
        body = response.json()
        assert len(body["results"]) == page_size
        assert body["next"]


def test_page_a_schedule_pages_whoever_is_on_call_now(
    api_client_for, org, people, incident, make_schedule
):
    schedule = make_schedule(layers=[{"users": [people["carol"]], "shift_unit": "days"}])
    response = api_client_for(people["alice"]).post(
        f"{BASE}/{org.slug}/incidents/{incident.number}/page/",
        {"schedule": schedule.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    [row] = response.json()
    assert row["recipient"] == "carol"
    assert row["reason"] == f"Paged by alice: schedule {schedule.name}"
