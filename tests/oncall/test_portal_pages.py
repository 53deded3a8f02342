"""Pages in the portal: "my pages" with its acknowledge button, the incident page's
escalation panel with "escalate now" and "page someone", and the home page's card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from incidents.models import Incident
from incidents.states import Status
from oncall.models import Escalation, Page
from oncall.services import escalations
from tenancy import rls
from tenancy.models import Role
from tests.oncall.engine_helpers import make_policy, make_service, open_incident, paged

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
def paged_incident(org, people, clock, django_capture_on_commit_callbacks):
    """An incident on a service whose policy pages alice, then bob after 10 minutes;
    alice's page is out."""
    policy = make_policy(
        org,
        "Checkout",
        [{"delay": 10, "users": [people["alice"]]}, {"delay": 15, "users": [people["bob"]]}],
    )
    service = make_service(org, "checkout", policy=policy)
    incident = open_incident(org, django_capture_on_commit_callbacks, service=service)
    with django_capture_on_commit_callbacks(execute=True):
        escalations.escalations_tick(organization_id=org.pk)
    assert paged(incident) == [("alice", 0, 0)]
    return incident


def pages_url(org):
    return reverse("oncall:pages", args=[org.slug])


def detail_url(org, incident):
    return reverse("incidents:detail", args=[org.slug, incident.number])


def test_my_pages_lists_the_open_page_and_acknowledging_stops_the_escalation(
    org, people, client_for, paged_incident, clock, django_capture_on_commit_callbacks
):
    client = client_for(people["alice"])
    page = client.get(pages_url(org))
    assert page.status_code == 200
    [mine] = page.context["open"]
    assert mine.incident == paged_incident
    assert b"Acknowledge" in page.content
    assert client_for(people["bob"]).get(pages_url(org)).context["pages"] == []

    client = client_for(people["alice"])
    ack = reverse("oncall:acknowledge", args=[org.slug, mine.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ack, follow=True)
    assert response.status_code == 200
    assert f"Acknowledged {paged_incident.reference}".encode() in response.content
    with rls.tenant_context(org.pk):
        assert Incident.objects.for_org(org).get(pk=paged_incident.pk).status == Status.ACKNOWLEDGED
        assert Page.objects.for_org(org).get(pk=mine.pk).status == Page.Status.ACKNOWLEDGED
        assert Escalation.objects.for_org(org).get().state == Escalation.State.ACKNOWLEDGED
    clock.shift(timedelta(minutes=30))
    escalations.escalations_tick(organization_id=org.pk)
    assert paged(paged_incident) == [("alice", 0, 0)]  # bob is never paged


def test_nobody_acknowledges_another_persons_page(
    org, people, client_for, paged_incident, member, other_org
):
    with rls.tenant_context(org.pk):
        alices = Page.objects.for_org(org).get()
    url = reverse("oncall:acknowledge", args=[org.slug, alices.pk])
    assert client_for(people["bob"]).post(url).status_code == 404
    stranger = client_for(member(Role.OWNER, organization=other_org))
    assert stranger.post(url).status_code == 404
    assert stranger.get(pages_url(org)).status_code == 404
    with rls.tenant_context(org.pk):
        assert Page.objects.for_org(org).get().status == Page.Status.OPEN


def test_the_incident_panel_shows_the_escalation_and_lets_responders_act(
    org, people, member, client_for, paged_incident, django_capture_on_commit_callbacks
):
    page = client_for(people["bob"]).get(detail_url(org, paged_incident))
    [panel] = [p for p in page.context["incident_panels"] if "escalation" in p.template_name]
    assert panel.context["escalation"].step == 1
    assert [p.recipient.username for p in panel.context["pages"]] == ["alice"]
    assert b"Escalate now" in page.content

    client = client_for(people["bob"])
    escalate = reverse("oncall:escalate", args=[org.slug, paged_incident.number])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(escalate)
    assert paged(paged_incident) == [("alice", 0, 0), ("bob", 1, 0)]

    page_someone = reverse("oncall:page", args=[org.slug, paged_incident.number])
    carol = member(Role.RESPONDER, username="carol")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page_someone, {"target": f"user:{carol.pk}"}, follow=True)
    assert b"Paged carol." in response.content
    assert paged(paged_incident)[-1] == ("carol", None, None)
    bad = client.post(page_someone, {"target": "user:999999"}, follow=True)
    assert b"Choose a person, a team or a schedule" in bad.content
    bystander = member(Role.STAKEHOLDER, username="bystander")
    offered = client.get(detail_url(org, paged_incident)).content
    assert b"carol" in offered
    assert b"bystander" not in offered, "only people who can acknowledge are offered"
    refused = client.post(page_someone, {"target": f"user:{bystander.pk}"}, follow=True)
    assert b"Choose a person, a team or a schedule" in refused.content

    # Stakeholders see the escalation and the pages, not the controls; reporters nothing.
    watcher = client_for(member(Role.STAKEHOLDER)).get(detail_url(org, paged_incident))
    assert b"Escalation and pages" in watcher.content
    assert b"Escalate now" not in watcher.content
    assert client_for(member(Role.STAKEHOLDER)).post(escalate).status_code == 403


def test_the_home_card_counts_open_pages_and_says_who_is_on_call(
    org, people, client_for, paged_incident
):
    home = client_for(people["alice"]).get(reverse("portal:home", args=[org.slug]))
    [card] = [p for p in home.context["panels"] if p.template_name == "oncall/_home_card.html"]
    assert card.context["open_pages"] == 1
    assert b"1 page waiting for you" in home.content
    assert card.context["on_call"] == []  # a policy of people, no schedule


def test_my_pages_takes_the_same_queries_for_1_or_20_pages(
    org, people, client_for, paged_incident, django_assert_max_num_queries
):
    client = client_for(people["alice"])
    with django_assert_max_num_queries(30) as one:
        client.get(pages_url(org))
    with rls.tenant_context(org.pk):
        Page.objects.bulk_create(
            [
                Page(
                    organization=org,
                    incident=paged_incident,
                    recipient=people["alice"],
                    reason=f"By hand {n}",
                )
                for n in range(19)
            ]
        )
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(client.get(pages_url(org)).context["pages"]) == 20
