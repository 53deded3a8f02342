"""The page e-mail and its one-click acknowledgement link."""

from __future__ import annotations

import re

import pytest

from events import delivery
from events.models import Event
from incidents import services as incident_services
from incidents.states import Status
from oncall.models import Escalation, Page
from oncall.services import escalations
from tenancy import rls
from tenancy.models import Role
from tests.oncall.engine_helpers import committed, make_policy, make_service, open_incident

LINK = re.compile(r"http://[^\s\"]+/o/acme/pages/\d+/acknowledge/[^\s\"/]+/")


@pytest.fixture
def people(member):
    return {name: member(Role.RESPONDER, username=name) for name in ("alice", "bob")}


@pytest.fixture
def incident(org, people, django_capture_on_commit_callbacks, mailoutbox):
    policy = make_policy(
        org, "Checkout", [{"delay": 10, "users": [people["alice"]]}, {"users": [people["bob"]]}]
    )
    opened = open_incident(
        org, django_capture_on_commit_callbacks, service=make_service(org, "shop", policy=policy)
    )
    with committed(django_capture_on_commit_callbacks):
        escalations.escalations_tick(organization_id=org.pk)
    return opened


def link_in(message) -> str:
    [found] = set(LINK.findall(message.body))
    assert found in message.alternatives[0][0]
    return found.removeprefix("http://localhost:8000")


def test_the_recipient_is_mailed_once_with_a_link(org, incident, mailoutbox):
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert message.subject == f"[Acme] Paged: INC-{incident.number} Checkout down"
    assert "Step 1: user alice" in message.body
    link_in(message)
    with rls.tenant_context(org.pk):
        event = Event.objects.for_org(org).get(type="page.created")
    delivery.deliver(org.pk, event.pk, "oncall.page_mail")  # delivered again
    assert len(mailoutbox) == 1


def test_get_confirms_and_post_acknowledges(client, org, incident, mailoutbox):
    path = link_in(mailoutbox[0])
    response = client.get(path)
    assert response.status_code == 200
    assert b'method="post"' in response.content
    incident.refresh_from_db()
    assert incident.status == Status.NEW  # a scanner that opens the link changes nothing

    response = client.post(path)
    assert response.status_code == 200
    assert b"Acknowledged" in response.content
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    with rls.tenant_context(org.pk):
        page = Page.objects.for_org(org).get(incident=incident)
        assert page.status == Page.Status.ACKNOWLEDGED
        assert Escalation.objects.for_org(org).get(incident=incident).state == "acknowledged"
    assert client.get(path).status_code == 400  # acknowledged: the link is spent


def test_the_link_dies_with_the_incidents_acknowledgement(
    client, org, people, incident, mailoutbox
):
    path = link_in(mailoutbox[0])
    incident_services.incident_transition(
        organization=org, actor=people["bob"], incident=incident, status=Status.ACKNOWLEDGED
    )
    assert client.get(path).status_code == 400
    assert client.post(path).status_code == 400


def test_someone_else_logged_in_is_refused(client_for, org, people, incident, mailoutbox):
    path = link_in(mailoutbox[0])
    client = client_for(people["bob"])
    assert client.get(path).status_code == 403
    assert client.post(path).status_code == 403
    incident.refresh_from_db()
    assert incident.status == Status.NEW


def test_a_tampered_or_foreign_token_is_refused(client, org, other_org, incident, mailoutbox):
    path = link_in(mailoutbox[0])
    with rls.tenant_context(org.pk):
        page = Page.objects.for_org(org).select_related("incident__organization").get()
    # The mailed token itself, tampered (one made now may carry a later second).
    token = path.rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    assert tampered != token
    assert client.post(path.replace(token, tampered)).status_code == 400
    assert client.post(path.replace(f"/{page.pk}/", f"/{page.pk + 1}/")).status_code == 400
    assert client.post(path.replace("/o/acme/", "/o/globex/")).status_code == 400
    with rls.tenant_context(org.pk):
        incident.refresh_from_db()
    assert incident.status == Status.NEW
