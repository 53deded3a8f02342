"""The incident pages of the portal: report, mine, the queue, the incident page and the
change feeds, per role, across organizations, and with pinned query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident, TimelineEntry
from incidents.states import Status
from incidents.views import incident as incident_views
from incidents.views import paging
from tenancy import services
from tenancy.models import Membership, Role
from tests.conftest import see

pytestmark = pytest.mark.django_db

EVERYONE = list(Role)
SEES_ALL = [Role.OWNER, Role.ADMIN, Role.RESPONDER, Role.STAKEHOLDER]
RESPONDERS = [Role.OWNER, Role.ADMIN, Role.RESPONDER]


def url(name, org, **kwargs):
    return reverse(f"incidents:{name}", kwargs={"org": org.slug, **kwargs})


def page(name, org, incident, **kwargs):
    return url(name, org, number=incident.number, **kwargs)


def refreshed(org, incident) -> Incident:
    return Incident.objects.for_org(org).get(pk=incident.pk)


def entries(org, incident):
    return list(TimelineEntry.objects.for_org(org).filter(incident=incident).order_by("id"))


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def people(member):
    """One member of Acme per role, plus a second reporter."""
    users = {role: member(role, username=f"{role}-user") for role in Role}
    users["other_reporter"] = member(Role.REPORTER, username="other-reporter")
    return users


@pytest.fixture
def make_incident(org):
    def make(organization=None, *, reporter=None, **fields):
        fields.setdefault("title", "Printer on fire")
        return incident_services.incident_create(
            organization=organization or org, actor=reporter, reporter=reporter, **fields
        )

    return make


@pytest.fixture
def reported(people, make_incident):
    """An incident the reporter filed."""
    return make_incident(reporter=people[Role.REPORTER], title="VPN drops every few minutes")


@pytest.fixture
def catalog(org):
    platform = services.team_create(organization=org, actor=None, slug="platform", name="Platform")
    network = services.team_create(organization=org, actor=None, slug="network", name="Network")
    return {
        "platform": platform,
        "network": network,
        "checkout": incident_services.service_create(
            organization=org, actor=None, slug="checkout", name="Checkout", team=platform
        ),
        "vpn": incident_services.service_create(
            organization=org, actor=None, slug="vpn", name="Corporate VPN", team=network
        ),
    }


def post_action(client, org, incident, action, **data):
    return client.post(page("detail", org, incident), {"action": action, **data})


# Access per role -----------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, org, reported):
    for target in (
        url("queue", org),
        url("new", org),
        url("mine", org),
        url("changes", org),
        page("detail", org, reported),
        page("timeline", org, reported),
        page("incident-changes", org, reported),
    ):
        response = client.get(target)
        assert response.status_code == 302, target
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", EVERYONE)
def test_pages_per_role(client_for, people, org, reported, role):
    client = client_for(people[role])
    queue = client.get(url("queue", org))
    if role == Role.REPORTER:
        assert queue.status_code == 302
        assert queue["Location"] == url("mine", org)
    else:
        assert queue.status_code == 200
        assert "VPN drops every few minutes" in text(queue)
    assert client.get(url("new", org)).status_code == (403 if role == Role.STAKEHOLDER else 200)
    assert client.get(url("mine", org)).status_code == 200
    for name in ("detail", "timeline", "incident-changes"):
        assert client.get(page(name, org, reported)).status_code == 200, name
    changes = client.get(url("changes", org), {"since": timezone.now().isoformat()})
    assert changes.status_code == 200


def test_reporter_sees_only_their_own_incidents(client_for, people, org, make_incident):
    mine = make_incident(reporter=people[Role.REPORTER], title="My laptop will not boot")
    theirs = make_incident(reporter=people["other_reporter"], title="Someone else's problem")
    client = client_for(people[Role.REPORTER])

    listing = text(client.get(url("mine", org)))
    assert "My laptop will not boot" in listing
    assert "Someone else" not in listing
    assert client.get(page("detail", org, mine)).status_code == 200
    for name in ("detail", "timeline", "incident-changes"):
        response = client.get(page(name, org, theirs))
        assert response.status_code == 404, name
        assert "Someone else" not in text(response)
    response = post_action(client, org, theirs, "comment", body="Me too")
    assert response.status_code == 404
    assert len(entries(org, theirs)) == 1
    # The queue's change feed counts only what the reporter may see.
    since = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert client.get(url("changes", org), {"since": since}).json()["changed"] == 1


def test_mine_lists_what_i_reported_whatever_my_role(client_for, people, org, make_incident):
    make_incident(reporter=people[Role.RESPONDER], title="Reported by the responder")
    make_incident(reporter=people[Role.REPORTER], title="Reported by the reporter")
    listing = text(client_for(people[Role.RESPONDER]).get(url("mine", org)))
    assert "Reported by the responder" in listing
    assert "Reported by the reporter" not in listing


def test_another_organizations_incidents_answer_404_and_leak_nothing(
    client_for, people, org, other_org, member, make_incident
):
    stranger = member(Role.REPORTER, organization=other_org, username="stranger")
    for index in range(3):
        foreign = make_incident(other_org, reporter=stranger, title=f"Secret outage {index}")
    ours = make_incident(reporter=people[Role.REPORTER], title="Our own outage")
    client = client_for(people[Role.OWNER])
    assert foreign.number == 3
    assert ours.number == 1

    for target in (
        url("queue", other_org),
        url("new", other_org),
        url("mine", other_org),
        url("changes", other_org),
        page("detail", other_org, foreign),
        page("timeline", other_org, foreign),
        page("incident-changes", other_org, foreign),
        page("detail", org, foreign),  # their number under our organization
        page("timeline", org, foreign),
        page("incident-changes", org, foreign),
    ):
        response = client.get(target)
        assert response.status_code == 404, target
        assert "Secret" not in text(response)
        assert "stranger" not in text(response)
        # Read-only routes of our own organization answer 405 first, as for a number that
        # does not exist; nothing tells the two apart.
        posted = client.post(target, {"action": "comment", "body": "x"})
        read_only_here = target.startswith(f"/o/{org.slug}/") and target.endswith(
            ("/timeline/", "/changes/")
        )
        assert posted.status_code == (405 if read_only_here else 404), target
        if read_only_here:
            missing = target.replace(f"/{foreign.number}/", "/999999/")
            assert client.post(missing).status_code == 405

    queue = text(client.get(url("queue", org)))
    assert "Our own outage" in queue
    assert "Secret" not in queue
    assert "Secret" not in text(client.get(page("detail", org, ours)))
    # Another organization's service, team or person in a form links nothing.
    their_service = incident_services.service_create(
        organization=other_org, actor=None, slug="secret", name="Secret service"
    )
    response = client.post(
        url("new", org),
        {"title": "Planted", "service": their_service.pk, "impact": 3, "urgency": 3},
    )
    assert response.status_code == 200
    assert not Incident.objects.for_org(org).filter(title="Planted").exists()
    response = post_action(
        client,
        org,
        ours,
        "assign",
        assignee=stranger.pk,
        impact=ours.impact,
        urgency=ours.urgency,
    )
    assert response.status_code == 400
    see(org, other_org)
    assert refreshed(org, ours).assignee is None
    assert Incident.objects.for_org(other_org).count() == 3


# Reporting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [(3, 3, 5), (2, 2, 3), (1, 1, 1), (1, 3, 3)],
)
def test_reporting_lands_on_the_incident_page(
    client_for, people, org, catalog, impact, urgency, priority
):
    client = client_for(people[Role.REPORTER])
    form = text(client.get(url("new", org)))
    assert "Just me" in form
    assert "Work has stopped" in form
    assert "Corporate VPN" in form

    response = client.post(
        url("new", org),
        {
            "title": "Cannot reach the intranet",
            "description": "Since 9:00.\nOn every laptop.",
            "service": catalog["vpn"].pk,
            "impact": impact,
            "urgency": urgency,
        },
    )
    incident = Incident.objects.for_org(org).get()
    assert response.status_code == 302
    assert response["Location"] == page("detail", org, incident)
    assert incident.title == "Cannot reach the intranet"
    assert (incident.impact, incident.urgency, incident.priority) == (impact, urgency, priority)
    assert incident.reporter == people[Role.REPORTER]
    assert incident.source == Incident.Source.PORTAL
    assert incident.service == catalog["vpn"]
    assert incident.team == catalog["network"]  # the service's team answers for it
    assert incident.status == Status.NEW

    landed = text(client.get(response["Location"]))
    assert f"your report is INC-{incident.number}" in landed
    assert "Cannot reach the intranet" in landed
    assert "Since 9:00.<br>On every laptop." in landed


def test_the_service_is_optional(client_for, people, org):
    client = client_for(people[Role.RESPONDER])
    response = client.post(url("new", org), {"title": "Odd noise", "impact": 3, "urgency": 2})
    assert response.status_code == 302
    incident = Incident.objects.for_org(org).get()
    assert incident.service is None
    assert incident.reporter == people[Role.RESPONDER]


def test_an_incomplete_report_shows_errors_and_creates_nothing(client_for, people, org):
    client = client_for(people[Role.REPORTER])
    response = client.post(url("new", org), {"title": "", "impact": 9, "urgency": ""})
    assert response.status_code == 200
    body = text(response)
    assert "This field is required." in body
    assert "Select a valid choice" in body
    assert not Incident.objects.for_org(org).exists()


def test_stakeholders_cannot_report(client_for, people, org):
    client = client_for(people[Role.STAKEHOLDER])
    response = client.post(url("new", org), {"title": "x", "impact": 3, "urgency": 3})
    assert response.status_code == 403
    assert not Incident.objects.for_org(org).exists()
    assert url("new", org) not in text(client.get(reverse("portal:home", args=[org.slug])))


# The incident page -------------------------------------------------------------------------


def test_header_and_description_are_rendered_safely(client_for, people, org, make_incident):
    incident = make_incident(
        reporter=people[Role.REPORTER],
        title="<b>Bold</b> title",
        description="<script>alert(1)</script>\nSecond line\n\nNew paragraph",
    )
    body = text(client_for(people[Role.RESPONDER]).get(page("detail", org, incident)))
    assert "&lt;b&gt;Bold&lt;/b&gt; title" in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>Second line</p>" in body
    assert "<p>New paragraph</p>" in body
    assert f"INC-{incident.number}" in body
    assert "reporter-user" in body
    assert re.search(r'<script src="/static/beacon/live\.js" defer></script>', body)
    assert "onclick" not in body
    assert re.search(r"<script>", body) is None  # no inline script: the CSP forbids it


@pytest.mark.parametrize("role", EVERYONE)
def test_what_each_role_may_do_on_the_page(client_for, people, org, reported, role):
    body = text(client_for(people[role]).get(page("detail", org, reported)))
    responder = role in RESPONDERS
    assert ('value="transition"' in body) is responder
    assert ("Assign to me" in body) is responder
    assert ('value="post_update"' in body) is responder
    assert ('value="comment"' in body) is (role != Role.STAKEHOLDER)
    assert ('name="is_public"' in body) is responder


def test_buttons_offer_only_the_allowed_targets(client_for, people, org, reported):
    client = client_for(people[Role.RESPONDER])
    body = text(client.get(page("detail", org, reported)))
    offered = set(re.findall(r'name="status" value="([a-z_]+)"', body))
    assert offered == {"acknowledged", "in_progress", "on_hold", "resolved", "cancelled"}

    incident_services.incident_transition(
        organization=org,
        actor=None,
        incident=reported,
        status=Status.RESOLVED,
        resolution="Replaced the router.",
    )
    body = text(client.get(page("detail", org, reported)))
    assert set(re.findall(r'name="status" value="([a-z_]+)"', body)) == {"closed", "in_progress"}
    assert "Reopen" in body
    assert "Replaced the router." in body

    incident_services.incident_transition(
        organization=org, actor=None, incident=reported, status=Status.CLOSED
    )
    body = text(client.get(page("detail", org, reported)))
    assert re.findall(r'name="status" value="([a-z_]+)"', body) == []
    assert "is final" in body


def test_transitions_through_the_buttons(client_for, people, org, reported):
    responder = people[Role.RESPONDER]
    client = client_for(responder)
    response = post_action(
        client, org, reported, "transition", status="acknowledged", note="On it."
    )
    assert response.status_code == 302
    assert response["Location"] == page("detail", org, reported)
    incident = refreshed(org, reported)
    assert incident.status == Status.ACKNOWLEDGED
    assert incident.acknowledged_at is not None
    last = entries(org, reported)[-1]
    assert (last.kind, last.body, last.actor) == (
        TimelineEntry.Kind.STATUS_CHANGED,
        "On it.",
        responder,
    )
    assert "is now Acknowledged" in text(client.get(response["Location"]))

    # Resolving needs a resolution: without one, nothing changes and the form says so.
    response = post_action(client, org, reported, "transition", status="resolved", note="Done")
    assert response.status_code == 400
    assert "Say how it was resolved." in text(response)
    assert refreshed(org, reported).status == Status.ACKNOWLEDGED

    response = post_action(
        client, org, reported, "transition", status="resolved", resolution="Rebooted the VPN."
    )
    assert response.status_code == 302
    incident = refreshed(org, reported)
    assert incident.status == Status.RESOLVED
    assert incident.resolution == "Rebooted the VPN."
    assert incident.resolved_at is not None


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        ("closed", 409, "An incident cannot go from new to closed."),
        ("new", 409, "An incident cannot go from new to new."),
        ("bogus", 400, "That status change was not understood."),
        ("", 400, "That status change was not understood."),
    ],
)
def test_a_forbidden_transition_posted_by_hand_changes_nothing(
    client_for, people, org, reported, status, code, message
):
    before = entries(org, reported)
    response = post_action(
        client_for(people[Role.RESPONDER]), org, reported, "transition", status=status
    )
    assert response.status_code == code
    assert message in text(response)
    assert 'role="alert"' in text(response)
    assert refreshed(org, reported).status == Status.NEW
    assert entries(org, reported) == before


def test_a_stale_button_after_someone_else_moved_the_incident(client_for, people, org, reported):
    """Two responders: the second clicks "Acknowledge" on a page loaded before a cancel."""
    incident_services.incident_transition(
        organization=org, actor=people[Role.ADMIN], incident=reported, status=Status.CANCELLED
    )
    response = post_action(
        client_for(people[Role.RESPONDER]), org, reported, "transition", status="acknowledged"
    )
    assert response.status_code == 409
    assert "cannot go from cancelled to acknowledged" in text(response)
    assert refreshed(org, reported).status == Status.CANCELLED


@pytest.mark.parametrize("role", [Role.REPORTER, Role.STAKEHOLDER])
def test_only_responders_change_incidents(client_for, people, org, reported, role):
    client = client_for(people[role])
    before = entries(org, reported)
    for action, data in (
        ("transition", {"status": "acknowledged"}),
        ("take", {}),
        ("assign", {"assignee": people[role].pk, "impact": 1, "urgency": 1}),
        ("post_update", {"body": "All good"}),
    ):
        assert post_action(client, org, reported, action, **data).status_code == 403, action
    assert refreshed(org, reported).status == Status.NEW
    assert entries(org, reported) == before


def test_unknown_action_is_a_400(client_for, people, org, reported):
    response = post_action(client_for(people[Role.RESPONDER]), org, reported, "explode")
    assert response.status_code == 400
    assert "Unknown action." in text(response)


# Comments and status updates ---------------------------------------------------------------


def test_responder_comments_are_internal_unless_marked_public(client_for, people, org, reported):
    client = client_for(people[Role.RESPONDER])
    response = post_action(client, org, reported, "comment", body="Checking the logs.")
    assert response.status_code == 302
    response = post_action(client, org, reported, "comment", body="We see it too.", is_public="on")
    assert response.status_code == 302
    internal, public = entries(org, reported)[-2:]
    assert (internal.kind, internal.body, internal.is_public) == (
        "comment",
        "Checking the logs.",
        False,
    )
    assert (public.body, public.is_public) == ("We see it too.", True)

    responder_view = text(client.get(page("detail", org, reported)))
    assert "Checking the logs." in responder_view
    assert "Internal" in responder_view
    for role in (Role.REPORTER, Role.STAKEHOLDER):
        shown = text(client_for(people[role]).get(page("detail", org, reported)))
        assert "We see it too." in shown
        assert "Checking the logs." not in shown
        assert "Internal" not in shown


def test_reporter_comments_are_always_public(client_for, people, org, reported):
    client = client_for(people[Role.REPORTER])
    response = post_action(client, org, reported, "comment", body="It happens again <now>.")
    assert response.status_code == 302
    assert response["Location"].endswith("#timeline")
    last = entries(org, reported)[-1]
    assert (last.body, last.is_public, last.actor) == (
        "It happens again <now>.",
        True,
        people[Role.REPORTER],
    )
    assert "It happens again &lt;now&gt;." in text(client.get(page("detail", org, reported)))


def test_stakeholders_cannot_comment(client_for, people, org, reported):
    response = post_action(
        client_for(people[Role.STAKEHOLDER]), org, reported, "comment", body="Hello"
    )
    assert response.status_code == 403
    assert len(entries(org, reported)) == 1


def test_an_empty_comment_is_refused(client_for, people, org, reported):
    response = post_action(client_for(people[Role.RESPONDER]), org, reported, "comment", body=" ")
    assert response.status_code == 400
    assert "This field is required." in text(response)
    assert len(entries(org, reported)) == 1


def test_status_updates_are_public(client_for, people, org, reported):
    client = client_for(people[Role.RESPONDER])
    response = post_action(client, org, reported, "post_update", body="Fix rolling out.")
    assert response.status_code == 302
    last = entries(org, reported)[-1]
    assert (last.kind, last.is_public, last.body) == ("status_update", True, "Fix rolling out.")
    stakeholder_view = text(client_for(people[Role.STAKEHOLDER]).get(page("detail", org, reported)))
    assert "posted a status update" in stakeholder_view
    assert "Fix rolling out." in stakeholder_view
    client = client_for(people[Role.RESPONDER])
    assert post_action(client, org, reported, "post_update", body="").status_code == 400


# Assignment and roles --------------------------------------------------------------------------


def test_assign_to_me(client_for, people, org, reported):
    responder = people[Role.RESPONDER]
    client = client_for(responder)
    response = post_action(client, org, reported, "take")
    assert response.status_code == 302
    assert refreshed(org, reported).assignee == responder
    last = entries(org, reported)[-1]
    assert (last.kind, last.data["to"]) == ("assigned", responder.username)
    body = text(client.get(page("detail", org, reported)))
    assert "Assign to me" not in body
    assert "took the incident" in body


def assignment(incident, **changes):
    """What the assignment form posts: current values, their hidden initials, the changes."""
    current = {
        "assignee": incident.assignee_id or "",
        "commander": incident.commander_id or "",
        "comms_lead": incident.comms_lead_id or "",
        "team": incident.team_id or "",
        "severity": incident.severity,
        "impact": incident.impact,
        "urgency": incident.urgency,
    }
    return {
        "action": "assign",
        **current,
        **{f"initial-{name}": value for name, value in current.items()},
        **changes,
    }


def test_the_assignment_form_sets_people_team_and_classification(
    client_for, people, org, reported, catalog
):
    client = client_for(people[Role.ADMIN])
    body = text(client.get(page("detail", org, reported)))
    assert "responder-user" in picker(body, "assignee")  # members are the choices
    response = client.post(
        page("detail", org, reported),
        assignment(
            reported,
            assignee=people[Role.RESPONDER].pk,
            commander=people[Role.ADMIN].pk,
            comms_lead=people[Role.OWNER].pk,
            team=catalog["platform"].pk,
            severity="sev2",
            impact=1,
            urgency=1,
        ),
    )
    assert response.status_code == 302
    incident = refreshed(org, reported)
    assert incident.assignee == people[Role.RESPONDER]
    assert incident.commander == people[Role.ADMIN]
    assert incident.comms_lead == people[Role.OWNER]
    assert incident.team == catalog["platform"]
    assert incident.severity == "sev2"
    assert (incident.impact, incident.urgency, incident.priority) == (1, 1, 1)
    page_now = text(client.get(page("detail", org, reported)))
    assert "Saved: assignee, incident commander, comms lead, team, severity, impact, urgency." in (
        page_now
    )
    assert "P1 – Critical" in page_now
    assert "set the severity to SEV2" in page_now


def picker(body: str, name: str) -> set[str]:
    """The labels a select box of the page offers."""
    select = re.search(rf'<select name="{name}".*?</select>', body, re.S)
    assert select is not None, name
    return set(re.findall(r"<option[^>]*>([^<]*)</option>", select.group(0)))


@pytest.mark.parametrize("field", ["assignee", "commander", "comms_lead"])
def test_the_people_pickers_offer_only_members_who_work_incidents(
    client_for, people, org, reported, field
):
    body = text(client_for(people[Role.RESPONDER]).get(page("detail", org, reported)))
    offered = picker(body, field)
    assert {"owner-user", "admin-user", "responder-user"} <= offered
    assert not offered & {"reporter-user", "stakeholder-user", "other-reporter"}


@pytest.mark.parametrize("field", ["assignee", "commander", "comms_lead"])
@pytest.mark.parametrize("role", [Role.REPORTER, Role.STAKEHOLDER])
def test_a_reporter_or_stakeholder_cannot_be_given_an_incident_role(
    client_for, people, org, reported, field, role
):
    before = entries(org, reported)
    response = client_for(people[Role.RESPONDER]).post(
        page("detail", org, reported), assignment(reported, **{field: people[role].pk})
    )
    assert response.status_code == 400
    assert response.context["assignment_form"].errors[field]
    assert getattr(refreshed(org, reported), field) is None
    assert entries(org, reported) == before


def test_the_service_refusal_is_a_form_error_on_its_field(
    client_for, people, org, reported, monkeypatch
):
    """A person who stops working incidents between the page and the post: the service
    refuses, and the form says so on the field."""
    responder = people[Role.RESPONDER]
    client = client_for(people[Role.ADMIN])
    monkeypatch.setattr(
        incident_views, "incident_workers", lambda organization: [responder, people[Role.REPORTER]]
    )
    response = client.post(
        page("detail", org, reported), assignment(reported, commander=people[Role.REPORTER].pk)
    )
    assert response.status_code == 400
    assert "cannot be the commander" in response.context["assignment_form"].errors["commander"][0]
    assert refreshed(org, reported).commander is None


def test_a_holder_whose_role_changed_stays_choosable_for_that_role_only(
    client_for, people, org, reported
):
    former = people[Role.RESPONDER]
    incident_services.incident_update(
        organization=org, actor=None, incident=reported, assignee=former
    )
    services.membership_change_role(
        organization=org,
        actor=None,
        membership=Membership.objects.for_org(org).get(user=former),
        role=Role.STAKEHOLDER,
    )
    client = client_for(people[Role.ADMIN])
    body = text(client.get(page("detail", org, reported)))
    assert "responder-user" in picker(body, "assignee")
    assert "responder-user" not in picker(body, "commander")
    # Changing something else keeps them assigned.
    response = client.post(page("detail", org, reported), assignment(reported, severity="sev3"))
    assert response.status_code == 302
    assert refreshed(org, reported).assignee == former


def test_the_assignment_form_leaves_what_someone_else_changed_meanwhile(
    client_for, people, org, reported
):
    stale = assignment(reported, severity="sev3")
    incident_services.incident_update(
        organization=org, actor=None, incident=reported, assignee=people[Role.OWNER]
    )
    response = client_for(people[Role.RESPONDER]).post(page("detail", org, reported), stale)
    assert response.status_code == 302
    incident = refreshed(org, reported)
    assert incident.severity == "sev3"
    assert incident.assignee == people[Role.OWNER]  # not reset to the stale "nobody"


def test_the_assignment_form_without_changes_writes_nothing(client_for, people, org, reported):
    before = entries(org, reported)
    response = client_for(people[Role.RESPONDER]).post(
        page("detail", org, reported), assignment(reported)
    )
    assert response.status_code == 302
    assert entries(org, reported) == before


# The queue ----------------------------------------------------------------------------------


@pytest.fixture
def queue_data(people, org, catalog, make_incident):
    reporter, responder = people[Role.REPORTER], people[Role.RESPONDER]
    checkout = make_incident(
        reporter=reporter,
        title="Checkout returns 502",
        service=catalog["checkout"],
        impact=1,
        urgency=1,
    )
    vpn = make_incident(
        reporter=reporter, title="VPN drops", service=catalog["vpn"], impact=2, urgency=2
    )
    calendar = make_incident(reporter=reporter, title="Calendar is slow", severity="sev4")
    printer = make_incident(reporter=reporter, title="Printer jammed")
    incident_services.incident_update(
        organization=org, actor=None, incident=checkout, assignee=responder, severity="sev1"
    )
    incident_services.incident_update(
        organization=org, actor=None, incident=vpn, assignee=people[Role.ADMIN]
    )
    incident_services.incident_transition(
        organization=org, actor=None, incident=calendar, status=Status.RESOLVED, resolution="ok"
    )
    incident_services.incident_transition(
        organization=org, actor=None, incident=printer, status=Status.CANCELLED
    )
    return {"checkout": checkout, "vpn": vpn, "calendar": calendar, "printer": printer}


def listed(response) -> list[str]:
    return re.findall(r'<td><a href="[^"]+">(INC-\d+)</a></td>', text(response))


def refs(*incidents) -> list[str]:
    return [incident.reference for incident in incidents]


def test_queue_filters(client_for, people, org, catalog, queue_data):
    client = client_for(people[Role.RESPONDER])
    d = queue_data

    def get(**params):
        response = client.get(url("queue", org), params)
        assert response.status_code == 200
        return listed(response)

    assert get() == refs(d["printer"], d["calendar"], d["vpn"], d["checkout"])  # newest first
    assert get(status=["new"]) == refs(d["vpn"], d["checkout"])
    assert get(status=["resolved", "cancelled"]) == refs(d["printer"], d["calendar"])
    assert get(priority=["1"]) == refs(d["checkout"])
    assert get(priority=["1", "3"]) == refs(d["vpn"], d["checkout"])
    assert get(severity="sev1") == refs(d["checkout"])
    assert get(service=catalog["vpn"].pk) == refs(d["vpn"])
    assert get(team=catalog["platform"].pk) == refs(d["checkout"])
    assert get(assignee="me") == refs(d["checkout"])
    assert get(assignee=people[Role.ADMIN].pk) == refs(d["vpn"])
    assert get(assignee="unassigned") == refs(d["printer"], d["calendar"])
    assert get(q="vpn") == refs(d["vpn"])
    assert get(q=d["calendar"].reference) == refs(d["calendar"])
    assert get(q="vpn", status=["resolved"]) == []
    # Nonsense is ignored (and said so), never a 500.
    response = client.get(url("queue", org), {"status": "bogus", "service": "x'1", "assignee": "¹"})
    assert response.status_code == 200
    assert "Some filters were not understood" in text(response)
    assert len(listed(response)) == 4


def test_saved_views(client_for, people, org, queue_data):
    client = client_for(people[Role.RESPONDER])
    body = text(client.get(url("queue", org)))
    views_nav = re.search(r'<nav aria-label="Saved views".*?</nav>', body, re.S).group(0)
    links = dict(
        (name, href.replace("&amp;", "&"))
        for href, name in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', views_nav)
    )
    assert set(links) == {
        "Open",
        "Assigned to me",
        "Unassigned",
        "P1–P2",
        "Resolved awaiting closure",
        "All",
    }
    d = queue_data
    queue = url("queue", org)
    assert listed(client.get(queue + links["Open"])) == refs(d["vpn"], d["checkout"])
    assert listed(client.get(queue + links["Assigned to me"])) == refs(d["checkout"])
    assert listed(client.get(queue + links["Unassigned"])) == []
    assert listed(client.get(queue + links["P1–P2"])) == refs(d["checkout"])
    assert listed(client.get(queue + links["Resolved awaiting closure"])) == refs(d["calendar"])
    active = text(client.get(queue + links["Unassigned"]))
    assert re.search(r'aria-current="page">Unassigned<', active)


def test_queue_pages_by_keyset(client_for, people, org, make_incident, monkeypatch):
    monkeypatch.setattr(paging, "PAGE_SIZE", 2)
    created = [make_incident(title=f"Incident {n}") for n in range(5)]
    # Two incidents share a creation time: the id breaks the tie.
    same = timezone.now() - timedelta(hours=1)
    Incident.objects.for_org(org).filter(pk__in=[created[1].pk, created[2].pk]).update(
        created_at=same
    )
    Incident.objects.for_org(org).filter(pk=created[0].pk).update(
        created_at=same - timedelta(hours=1)
    )
    client = client_for(people[Role.RESPONDER])
    seen = []
    target = url("queue", org) + "?status=new"
    for _ in range(5):
        response = client.get(target)
        seen.append(listed(response))
        older = re.search(r'<a href="([^"]+)">Older incidents', text(response))
        if older is None:
            break
        assert "status=new" in older.group(1)
        target = url("queue", org) + older.group(1).replace("&amp;", "&")
    assert seen == [
        refs(created[4], created[3]),
        refs(created[2], created[1]),
        refs(created[0]),
    ]
    assert client.get(url("queue", org), {"before": "garbage"}).status_code == 200
    assert client.get(url("queue", org), {"before": "9" * 17 + "-1"}).status_code == 200


# Query counts -------------------------------------------------------------------------------


def budget(queries: int, *, header: bool = True) -> int:
    """The page's queries, plus what PostgreSQL adds to any request: the savepoint of
    ATOMIC_REQUESTS and its release, and the row-level security settings (the user for
    their roles, the tenant, and the user again for the header's organization switcher)."""
    if connection.vendor != "postgresql":
        return queries
    return queries + 4 + (1 if header else 0)


# Measured, the same for 1 or 30 rows: session, user, organization, the user's roles; then
# the page's own reads (queue: services, teams and members for the filters, one page of
# incidents with their relations; incident page: the incident, its timeline, members and
# teams for the assignment form; mine: one page of incidents; the timeline fragment: the
# incident and its timeline); and the header's organization switcher (pages only).
QUEUE_QUERIES = 10  # and the user's own saved views, one query however many
MINE_QUERIES = 6
# and its attachments, its alerts (one query, with their count), and on-call's panel (the
# escalation, its pages, and the people, teams and schedules a responder may page), and
# notifications' panel (the deliveries sent about it, and their attempts when there are any).
DETAIL_QUERIES = 18
TIMELINE_QUERIES = 6


@pytest.mark.parametrize("size", [1, 30])
def test_queue_query_count_is_constant(
    client_for, people, org, catalog, make_incident, size, django_assert_max_num_queries
):
    for n in range(size):
        incident = make_incident(
            reporter=people[Role.REPORTER], title=f"Incident {n}", service=catalog["vpn"]
        )
        incident_services.incident_update(
            organization=org, actor=None, incident=incident, assignee=people[Role.RESPONDER]
        )
    client = client_for(people[Role.RESPONDER])
    with django_assert_max_num_queries(budget(QUEUE_QUERIES)):
        response = client.get(url("queue", org), {"status": ["new"], "q": "Incident"})
    assert len(listed(response)) == size
    client = client_for(people[Role.REPORTER])
    with django_assert_max_num_queries(budget(MINE_QUERIES)):
        response = client.get(url("mine", org))
    assert len(listed(response)) == size


@pytest.mark.parametrize("size", [1, 30])
def test_incident_page_query_count_is_constant(
    client_for, people, org, reported, size, django_assert_max_num_queries
):
    for n in range(size):
        incident_services.incident_comment(
            organization=org,
            actor=people[Role.RESPONDER],
            incident=reported,
            body=f"Comment {n}",
            is_public=True,
        )
    client = client_for(people[Role.RESPONDER])
    with django_assert_max_num_queries(budget(DETAIL_QUERIES)):
        response = client.get(page("detail", org, reported))
    assert text(response).count("commented") == size
    with django_assert_max_num_queries(budget(TIMELINE_QUERIES, header=False)):
        client.get(page("timeline", org, reported))


# Live updates ---------------------------------------------------------------------------------


def test_the_timeline_fragment(client_for, people, org, reported):
    incident_services.incident_comment(
        organization=org, actor=people[Role.RESPONDER], incident=reported, body="<i>internal</i>"
    )
    client = client_for(people[Role.RESPONDER])
    response = client.get(page("timeline", org, reported))
    assert response.status_code == 200
    body = text(response)
    assert body.lstrip().startswith('<ol class="timeline">')
    assert "&lt;i&gt;internal&lt;/i&gt;" in body
    assert "<html" not in body
    assert "no-store" in response["Cache-Control"]
    assert "internal" not in text(
        client_for(people[Role.REPORTER]).get(page("timeline", org, reported))
    )


def test_the_incident_change_feed(client_for, people, org, reported):
    client = client_for(people[Role.REPORTER])
    first = client.get(page("incident-changes", org, reported))
    assert first.status_code == 200
    assert first["Content-Type"] == "application/json"
    data = first.json()
    assert data["changed"] is True
    assert data["status"] == "new"
    since = data["since"]
    assert (
        client.get(page("incident-changes", org, reported), {"since": since}).json()["changed"]
        is False
    )

    # An internal comment is no change for the reporter, but it is for a responder.
    incident_services.incident_comment(
        organization=org, actor=people[Role.RESPONDER], incident=reported, body="internal"
    )
    assert (
        client.get(page("incident-changes", org, reported), {"since": since}).json()["changed"]
        is False
    )
    responder = client_for(people[Role.RESPONDER])
    assert (
        responder.get(page("incident-changes", org, reported), {"since": since}).json()["changed"]
        is True
    )

    incident_services.incident_transition(
        organization=org, actor=None, incident=reported, status=Status.ACKNOWLEDGED
    )
    client = client_for(people[Role.REPORTER])
    data = client.get(page("incident-changes", org, reported), {"since": since}).json()
    assert data["changed"] is True
    assert data["since"] > since
    assert (data["status"], data["status_label"]) == ("acknowledged", "Acknowledged")

    # An ISO time works too, "+" unencoded or not; nonsense is a 400.
    earlier = (timezone.now() - timedelta(minutes=5)).isoformat()
    later = (timezone.now() + timedelta(minutes=5)).isoformat()
    changes = page("incident-changes", org, reported)
    assert client.get(changes, {"since": earlier}).json()["changed"] is True
    assert client.get(changes, {"since": later}).json()["changed"] is False
    assert client.get(changes + "?since=" + later).json()["changed"] is False
    assert client.get(changes, {"since": "yesterday"}).status_code == 400


def test_the_queue_change_feed(client_for, people, org, catalog, make_incident):
    client = client_for(people[Role.RESPONDER])
    since = timezone.now() - timedelta(seconds=1)
    old = make_incident(title="Older one")
    Incident.objects.for_org(org).filter(pk=old.pk).update(
        created_at=since - timedelta(hours=1), updated_at=since - timedelta(hours=1)
    )
    make_incident(title="New one", service=catalog["vpn"])
    make_incident(title="Another", service=catalog["checkout"])
    feed = url("changes", org)
    response = client.get(feed, {"since": since.isoformat()})
    assert response.status_code == 200
    assert response.json()["changed"] == 2
    assert response.json()["capped"] is False
    assert (
        client.get(feed, {"since": since.isoformat(), "service": catalog["vpn"].pk}).json()[
            "changed"
        ]
        == 1
    )
    incident_services.incident_transition(
        organization=org, actor=None, incident=old, status=Status.ACKNOWLEDGED
    )
    assert client.get(feed, {"since": since.isoformat()}).json()["changed"] == 3
    assert client.get(feed).status_code == 400
    assert client.get(feed, {"since": "soon"}).status_code == 400

    queue = text(client.get(url("queue", org), {"status": "new"}))
    assert re.search(r'data-changes-url="/o/acme/incidents/changes/\?status=new"', queue)
    assert "data-live-queue" in queue


# Home and navigation -------------------------------------------------------------------------


def test_home_counts_and_navigation(client_for, people, org, make_incident):
    make_incident(reporter=people[Role.REPORTER], title="One")
    make_incident(reporter=people[Role.RESPONDER], title="Two")
    closed = make_incident(reporter=people[Role.REPORTER], title="Three")
    incident_services.incident_transition(
        organization=org, actor=None, incident=closed, status=Status.CANCELLED
    )
    home = reverse("portal:home", args=[org.slug])

    responder = text(client_for(people[Role.RESPONDER]).get(home))
    assert "2 open incidents" in responder
    assert "1 open incident you reported" in responder
    assert f'href="{url("queue", org)}"' in responder
    assert "Report an incident" in responder

    reporter = text(client_for(people[Role.REPORTER]).get(home))
    assert "open incidents" not in reporter
    assert "1 open incident you reported" in reporter
    assert f'href="{url("mine", org)}"' in reporter  # the nav goes to their own
    assert f'href="{url("queue", org)}"' not in reporter

    stakeholder = text(client_for(people[Role.STAKEHOLDER]).get(home))
    assert "2 open incidents" in stakeholder
    assert "Report an incident" not in stakeholder
