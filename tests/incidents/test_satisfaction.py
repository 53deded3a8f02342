"""The reporter's satisfaction score and comment, given when confirming the resolution, are
shown to responders and up and to the reporter: on the incident page, in the API and in the
admin; stakeholders and other reporters do not see them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import services
from incidents.states import Status
from tenancy.models import Role

pytestmark = pytest.mark.django_db
RESPONDERS = [Role.OWNER, Role.ADMIN, Role.RESPONDER]
COMMENT = "Works again, thanks for the quick fix"


@pytest.fixture
def reporter(member):
    return member(Role.REPORTER, username="rita")


@pytest.fixture
def closed(org, reporter):
    incident = services.incident_create(
        organization=org, actor=reporter, reporter=reporter, title="VPN is down"
    )
    incident = services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED, resolution="x"
    )
    return services.incident_confirm_closure(
        organization=org, actor=reporter, incident=incident, score=4, comment=COMMENT
    )


def viewer(role, member, reporter):
    return reporter if role == "the reporter" else member(role)


def page_of(client, org, incident):
    url = reverse("incidents:detail", kwargs={"org": org.slug, "number": incident.number})
    return client.get(url)


def api_of(client, org, incident):
    url = reverse("incident-detail", kwargs={"org": org.slug, "number": incident.number})
    return client.get(url)


@pytest.mark.parametrize("role", [*RESPONDERS, "the reporter", Role.STAKEHOLDER])
def test_the_incident_page(org, member, reporter, closed, client_for, role):
    response = page_of(client_for(viewer(role, member, reporter)), org, closed)
    assert response.status_code == 200
    page = response.content.decode()
    if role == Role.STAKEHOLDER:
        assert 'id="satisfaction"' not in page
        assert COMMENT not in page
        return
    assert 'id="satisfaction"' in page
    assert "<span data-satisfaction-score>4</span> out of 5" in page
    assert COMMENT in page
    assert ("Your feedback" if role == "the reporter" else "Reporter's feedback") in page


def test_another_reporter_does_not_reach_it(org, member, closed, client_for, api_client_for):
    other = member(Role.REPORTER)
    assert page_of(client_for(other), org, closed).status_code == 404
    assert api_of(api_client_for(other), org, closed).status_code == 404


def test_nothing_given_shows_nothing(org, member, reporter, client_for, api_client_for):
    incident = services.incident_create(organization=org, actor=None, title="Printer jam")
    responder = member(Role.RESPONDER)
    assert 'id="satisfaction"' not in page_of(client_for(responder), org, incident).content.decode()
    assert api_of(api_client_for(responder), org, incident).json()["satisfaction"] is None


@pytest.mark.parametrize("role", [*RESPONDERS, "the reporter", Role.STAKEHOLDER])
def test_the_api(org, member, reporter, closed, api_client_for, role):
    body = api_of(api_client_for(viewer(role, member, reporter)), org, closed).json()
    if role == Role.STAKEHOLDER:
        assert body["satisfaction"] is None
        assert (body["satisfaction_score"], body["satisfaction_comment"]) == (None, "")
        return
    assert body["satisfaction"] == {"score": 4, "comment": COMMENT}
    assert (body["satisfaction_score"], body["satisfaction_comment"]) == (4, COMMENT)


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.STAKEHOLDER])
def test_the_api_with_keys_and_lists(org, api_key_for, closed, api_client_for, role):
    client = api_client_for(api_key_for(role))
    [listed] = client.get(reverse("incident-list", kwargs={"org": org.slug})).json()["results"]
    expected = {"score": 4, "comment": COMMENT} if role == Role.RESPONDER else None
    assert listed["satisfaction"] == expected
    assert api_of(client, org, closed).json()["satisfaction"] == expected


def test_the_admin(org, member, closed, client_for):
    client = client_for(member(Role.ADMIN))
    page = client.get(reverse("admin:incidents_incident_change", args=[closed.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Reporter&#x27;s feedback" in html
    assert COMMENT in html
    assert 'name="satisfaction_comment"' not in html  # read, never edited
