"""Events in the admin: read-only, scoped to the admin's organizations, sendable again."""

import pytest
from django.urls import reverse

from events import bus
from events.models import Delivery, Event
from incidents import services
from tenancy.models import Role
from tests.conftest import see

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:events_event_changelist")


def change_url(event, view="change"):
    return reverse(f"admin:events_event_{view}", args=[event.pk])


@pytest.fixture
def waiting():
    """A subscriber nothing dispatches to here (no after-commit in these tests), so
    events wait for it until delivered."""
    seen = []
    bus.subscribe("tests.waiting", seen.append, types=["incident.created"])
    yield seen
    bus.unsubscribe("tests.waiting")


@pytest.fixture
def events_of(org, other_org, waiting):
    services.incident_create(organization=org, actor=None, title="Checkout is down")
    services.incident_create(organization=other_org, actor=None, title="Globex payroll secret")
    see(org, other_org)
    return {
        "ours": Event.objects.for_org(org).get(),
        "theirs": Event.objects.for_org(other_org).get(),
    }


def test_admins_list_their_organizations_events_with_what_they_wait_for(
    client_for, member, events_of
):
    page = client_for(member(Role.ADMIN)).get(CHANGELIST).content.decode()
    assert events_of["ours"].stream in page
    assert "waiting for tests.waiting" in page
    assert events_of["theirs"].stream not in page

    detail = client_for(member(Role.ADMIN)).get(change_url(events_of["ours"])).content
    assert b"Checkout is down" in detail  # the payload is shown
    assert b"Globex" not in detail


def test_another_organizations_event_answers_404(client_for, member, events_of):
    client = client_for(member(Role.OWNER))
    for view in ("change", "history", "delete"):
        response = client.get(change_url(events_of["theirs"], view))
        assert response.status_code == 404, view
        assert b"Globex payroll" not in response.content


def test_events_are_read_only_and_hidden_from_responders(client_for, member, events_of):
    admin_client = client_for(member(Role.ADMIN))
    assert admin_client.get(reverse("admin:events_event_add")).status_code == 403
    assert admin_client.post(change_url(events_of["ours"], "delete")).status_code == 403
    responder = client_for(member(Role.RESPONDER))
    response = responder.get(CHANGELIST)
    assert response.status_code in (302, 403)  # not staff: sent to the admin's login
    assert events_of["ours"].stream.encode() not in response.content


def test_send_again_delivers_the_pending_subscribers(client_for, member, org, events_of, waiting):
    client = client_for(member(Role.ADMIN))
    response = client.post(
        CHANGELIST,
        {
            "action": "send_again",
            "_selected_action": [events_of["ours"].pk, events_of["theirs"].pk],
        },
        follow=True,
    )
    assert b"Sent 1 delivery task(s) again." in response.content
    see(org)
    assert [event.pk for event in waiting] == [events_of["ours"].pk]
    assert Delivery.objects.for_org(org).get().subscriber == "tests.waiting"
