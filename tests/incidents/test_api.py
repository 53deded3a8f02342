"""The incidents REST API: /api/v1/orgs/<org>/incidents/…, services/ and categories/."""

import base64
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import Category, Incident, Service, TimelineEntry
from incidents.states import TRANSITIONS, Status
from tenancy import services as tenancy_services
from tenancy.models import AuditEvent, Membership, Role
from tests.conftest import see

pytestmark = pytest.mark.django_db

INCIDENT_FIELDS = {
    "number",
    "reference",
    "title",
    "description",
    "status",
    "allowed_transitions",
    "category",
    "impact",
    "urgency",
    "priority",
    "priority_override_reason",
    "severity",
    "service",
    "team",
    "assignee",
    "reporter",
    "commander",
    "comms_lead",
    "error_codes",
    "tags",
    "occurred_at",
    "detected_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "root_cause",
    "resolution",
    "source",
    "dedup_key",
    "sla",  # SLA
    "satisfaction_score",  # Closure
    "satisfaction_comment",
    "satisfaction",
    "escalation",  # on-call's, shown through core.extensions
    "created_at",
    "updated_at",
}
# A way into every state from new, along allowed transitions.
PATHS = {
    Status.NEW: [],
    Status.ACKNOWLEDGED: [Status.ACKNOWLEDGED],
    Status.IN_PROGRESS: [Status.IN_PROGRESS],
    Status.ON_HOLD: [Status.ON_HOLD],
    Status.RESOLVED: [Status.RESOLVED],
    Status.CLOSED: [Status.RESOLVED, Status.CLOSED],
    Status.CANCELLED: [Status.CANCELLED],
}


def url(org, name="incident-list", **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


def detail_url(org, incident, name="incident-detail"):
    return url(org, name, number=incident.number)


def create(org, reporter=None, **fields):
    return services.incident_create(
        organization=org,
        actor=reporter,
        reporter=reporter,
        title=fields.pop("title", "Checkout is down"),
        **fields,
    )


def move(org, incident, *path):
    for status in path:
        incident = services.incident_transition(
            organization=org,
            actor=None,
            incident=incident,
            status=status,
            resolution="Restarted the pods." if status == Status.RESOLVED else None,
        )
    return incident


def principal_for(credential, role, member, api_key_for, **kwargs):
    return member(role, **kwargs) if credential == "session" else api_key_for(role, **kwargs)


@pytest.fixture
def team(org, member):
    team = tenancy_services.team_create(
        organization=org, actor=None, slug="platform", name="Platform"
    )
    tenancy_services.team_member_add(
        organization=org, actor=None, team=team, user=member(Role.RESPONDER, username="oncall")
    )
    return team


@pytest.fixture
def service(org, team):
    return services.service_create(
        organization=org, actor=None, slug="checkout", name="Checkout", team=team
    )


@pytest.fixture
def responder(member):
    return member(Role.RESPONDER, username="responder")


@pytest.fixture
def foreign(other_org, member):
    """Another organization's service, category, team, member and incidents; its newest
    incident number is larger than any `org` has."""
    team = tenancy_services.team_create(
        organization=other_org, actor=None, slug="secret", name="Secret"
    )
    user = member(Role.OWNER, organization=other_org, username="stranger")
    service = services.service_create(
        organization=other_org, actor=None, slug="vault", name="Vault", team=team
    )
    category = Category.objects.create(organization=other_org, slug="espionage", name="Spies")
    incidents = [
        create(other_org, reporter=user, title=f"Secret incident {index}", service=service)
        for index in range(5)
    ]
    return {
        "team": team,
        "user": user,
        "service": service,
        "category": category,
        "incident": incidents[-1],
    }


# --- create -------------------------------------------------------------------------------


def test_create_with_every_field(api_client_for, org, service, responder, team):
    occurred = timezone.now() - timedelta(hours=2)
    body = {
        "title": "Checkout returns 502",
        "description": "Since the **deploy**.",
        "category": "software",
        "impact": 1,
        "urgency": 2,
        "severity": "sev2",
        "service": "checkout",
        "team": "platform",
        "occurred_at": occurred.isoformat(),
        "detected_at": (occurred + timedelta(minutes=5)).isoformat(),
        "error_codes": ["HTTP-502", "E_UPSTREAM"],
        "tags": ["checkout", "deploy"],
        "dedup_key": "checkout-502",
    }
    response = api_client_for(responder).post(url(org), body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == INCIDENT_FIELDS
    assert data["number"] == 1
    assert data["reference"] == "INC-1"
    assert data["status"] == "new"
    assert data["allowed_transitions"] == list(TRANSITIONS[Status.NEW])
    assert data["priority"] == 2  # impact 1 x urgency 2
    assert data["reporter"] == "responder"
    assert data["source"] == "api"
    assert data["service"] == "checkout"
    assert data["team"] == "platform"
    assert data["category"] == "software"
    assert data["error_codes"] == ["HTTP-502", "E_UPSTREAM"]
    incident = Incident.objects.for_org(org).get(number=1)
    assert incident.reporter == responder
    assert incident.occurred_at == occurred
    assert incident.dedup_key == "checkout-502"
    assert incident.timeline.get().kind == TimelineEntry.Kind.CREATED


def test_create_with_a_title_only_takes_the_defaults(api_client_for, org, responder, service):
    response = api_client_for(responder).post(url(org), {"title": "Slow", "service": "checkout"})
    assert response.status_code == 201
    data = response.json()
    assert (data["impact"], data["urgency"], data["priority"]) == (3, 3, 5)
    assert data["team"] == "platform"  # the service's team
    assert data["category"] is None
    assert data["assignee"] is None


def test_api_keys_create_without_a_reporter(api_client_for, api_key_for, org):
    response = api_client_for(api_key_for(Role.RESPONDER)).post(
        url(org), {"title": "From monitoring", "source": "email"}
    )
    assert response.status_code == 201
    assert response.json()["reporter"] is None
    assert response.json()["source"] == "email"
    incident = Incident.objects.for_org(org).get()
    assert incident.reporter is None
    assert incident.timeline.get().actor_label.startswith("API key")


def test_alerts_are_not_a_source_the_api_may_claim(api_client_for, org, responder):
    response = api_client_for(responder).post(url(org), {"title": "x", "source": "alert"})
    assert response.status_code == 400
    assert "source" in response.json()


# --- read ---------------------------------------------------------------------------------


def test_list_and_detail(api_client_for, org, responder, service):
    first = create(org, title="First", service=service)
    second = create(org, title="Second")
    client = api_client_for(responder)
    listing = client.get(url(org)).json()
    assert [i["number"] for i in listing["results"]] == [second.number, first.number]
    assert set(listing) == {"next", "previous", "results"}
    data = client.get(detail_url(org, first)).json()
    assert set(data) == INCIDENT_FIELDS
    assert (data["title"], data["service"], data["team"]) == ("First", "checkout", "platform")


def test_list_is_cursor_paginated_newest_first(api_client_for, org, responder):
    for index in range(5):
        create(org, title=f"#{index}")
    client = api_client_for(responder)
    seen, page = [], client.get(url(org), {"page_size": 2}).json()
    while True:
        seen += [i["number"] for i in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert seen == [5, 4, 3, 2, 1]


def test_page_size_is_capped_at_100(api_client_for, org, responder):
    for index in range(101):
        create(org, title=f"#{index}")
    response = api_client_for(responder).get(url(org), {"page_size": 1000})
    assert len(response.json()["results"]) == 100
    assert response.json()["next"]


@pytest.mark.parametrize(
    "position", ["garbage", "9999-12-31 23:59:59-14:00", "0001-01-01 00:00:00+14:00", "\x00"]
)
@pytest.mark.parametrize("name", ["incident-list", "incident-timeline-list", "service-list"])
def test_forged_cursors_are_invalid_not_errors(api_client_for, org, responder, name, position):
    incident = create(org)
    cursor = base64.b64encode(urlencode({"p": position, "o": 0}).encode()).decode()
    kwargs = {"number": incident.number} if "timeline" in name else {}
    response = api_client_for(responder).get(url(org, name, **kwargs), {"cursor": cursor})
    assert response.status_code in (200, 404)
    if response.status_code == 404:
        assert response.json() == {"detail": "Invalid cursor"}


def test_list_filters(api_client_for, org, member, team, service):
    oncall = team.members.get()
    other = services.service_create(organization=org, actor=None, slug="search", name="Search")
    urgent = create(org, title="Payments failing", impact=1, urgency=1, severity="sev1")
    services.incident_update(
        organization=org, actor=None, incident=urgent, service=service, team=team, assignee=oncall
    )
    held = move(org, create(org, title="Search slow", service=other), Status.ON_HOLD)
    acked = move(org, create(org, title="Login flaky", description="payments too"), "acknowledged")
    done = move(org, create(org, title="Old"), Status.RESOLVED, Status.CLOSED)
    Incident.objects.for_org(org).filter(pk=done.pk).update(
        created_at=timezone.now() - timedelta(days=30)
    )
    client = api_client_for(member(Role.STAKEHOLDER))

    def numbers(**params):
        response = client.get(url(org), params)
        assert response.status_code == 200, response.content
        return {i["number"] for i in response.json()["results"]}

    assert numbers(status="new") == {urgent.number}
    assert numbers(status="new,on_hold") == {urgent.number, held.number}
    assert numbers(status="new, on_hold,") == {urgent.number, held.number}
    assert numbers(status=["new", "acknowledged"]) == {urgent.number, acked.number}
    assert numbers(status=["new,acknowledged", "on_hold"]) == {
        urgent.number,
        acked.number,
        held.number,
    }
    assert numbers(priority=1) == {urgent.number}
    assert numbers(severity="sev1") == {urgent.number}
    assert numbers(team="platform") == {urgent.number}
    assert numbers(service="search") == {held.number}
    assert numbers(assignee=oncall.username) == {urgent.number}
    cutoff = (timezone.now() - timedelta(days=1)).isoformat()
    assert numbers(created_before=cutoff) == {done.number}
    assert done.number not in numbers(created_after=cutoff)
    assert numbers(q="payments") == {urgent.number, acked.number}
    assert numbers(q=f"INC-{held.number}") == {held.number}
    assert numbers(team="no-such-team") == set()


@pytest.mark.parametrize(
    "params",
    [
        {"status": "new,bogus"},
        {"status": "NEW"},
        {"priority": "9"},
        {"priority": "P1"},
        {"severity": "sev9"},
        {"created_after": "yesterday"},
        {"created_before": "2026-13-45T00:00:00Z"},
        {"created_after": "9999-12-31T23:59:59-14:00"},
        {"created_before": "0001-01-01T00:00:00+14:00"},
        {"q": "a\x00b"},
        {"q": "x" * 201},
        {"team": "t" * 51},
        {"assignee": "\x00"},
    ],
)
def test_bad_filters_are_400(api_client_for, org, responder, params):
    create(org)
    response = api_client_for(responder).get(url(org), params)
    assert response.status_code == 400, (params, response.content)
    assert set(response.json()) == set(params)


# --- the lifecycle through PATCH ----------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), [(s, t) for s in Status for t in Status])
def test_every_transition_through_patch(api_client_for, org, responder, source, target):
    incident = move(org, create(org), *PATHS[source])
    entries = incident.timeline.count()
    body = {"status": target, "note": "Because."}
    if target == Status.RESOLVED:
        body["resolution"] = "Rolled back the deploy."
    response = api_client_for(responder).patch(detail_url(org, incident), body)
    incident.refresh_from_db()
    if target in TRANSITIONS[source]:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == target
        assert response.json()["allowed_transitions"] == list(TRANSITIONS[target])
        assert incident.status == target
        entry = incident.timeline.latest("id")
        assert (entry.kind, entry.body) == (TimelineEntry.Kind.STATUS_CHANGED, "Because.")
        assert entry.data == {"from": source, "to": target}
        assert entry.actor == responder
    else:
        assert response.status_code == 409, response.content
        assert response.json()["allowed"] == list(TRANSITIONS[source])
        assert "status" in response.json()
        assert incident.status == source
        assert incident.timeline.count() == entries


def test_transition_timestamps_and_resolution(api_client_for, org, responder):
    incident = create(org)
    client = api_client_for(responder)
    detail = detail_url(org, incident)
    acked = client.patch(detail, {"status": "acknowledged"}).json()
    assert acked["acknowledged_at"] is not None
    refused = client.patch(detail, {"status": "resolved"})
    assert refused.status_code == 400
    assert "resolution" in refused.json()
    resolved = client.patch(
        detail, {"status": "resolved", "resolution": "Fixed.", "root_cause": "A bad config."}
    ).json()
    assert resolved["resolved_at"] is not None
    assert (resolved["resolution"], resolved["root_cause"]) == ("Fixed.", "A bad config.")
    reopened = client.patch(detail, {"status": "in_progress", "note": "Back again."}).json()
    assert reopened["resolved_at"] is None
    closed = client.patch(detail, {"status": "resolved"}).json()
    assert closed["status"] == "resolved"  # the earlier resolution still counts
    assert client.patch(detail, {"status": "closed"}).json()["closed_at"] is not None


def test_a_refused_transition_undoes_the_rest_of_the_patch(api_client_for, org, responder):
    incident = move(org, create(org, title="Before"), Status.CANCELLED)
    response = api_client_for(responder).patch(
        detail_url(org, incident),
        {"title": "After", "priority": 1, "priority_reason": "CEO", "status": "in_progress"},
    )
    assert response.status_code == 409
    assert response.json()["allowed"] == []
    incident.refresh_from_db()
    assert (incident.title, incident.priority, incident.status) == ("Before", 5, "cancelled")
    assert not incident.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGED).exists()


# --- field changes and priority override ----------------------------------------------------


def test_patch_fields_people_and_priority(api_client_for, org, member, responder, service, team):
    commander = member(Role.ADMIN, username="commander")
    comms = member(Role.OWNER, username="comms")
    incident = create(org)
    client = api_client_for(responder)
    response = client.patch(
        detail_url(org, incident),
        {
            "title": "Checkout down in EU",
            "description": "Only EU.",
            "category": "network",
            "impact": 1,
            "urgency": 1,
            "severity": "sev1",
            "service": "checkout",
            "team": "platform",
            "assignee": "responder",
            "commander": "commander",
            "comms_lead": "comms",
            "error_codes": ["E1"],
            "tags": ["eu"],
            "occurred_at": "2026-01-01T10:00:00Z",
            "root_cause": "DNS.",
            "resolution": "",
        },
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["priority"] == 1  # re-derived from the matrix
    assert (data["assignee"], data["commander"], data["comms_lead"]) == (
        "responder",
        "commander",
        "comms",
    )
    assert (data["category"], data["service"], data["team"]) == ("network", "checkout", "platform")
    incident.refresh_from_db()
    assert incident.commander == commander
    assert incident.comms_lead == comms
    assert incident.tags == ["eu"]
    assigned = incident.timeline.filter(kind=TimelineEntry.Kind.ASSIGNED)
    assert {e.data["field"] for e in assigned} == {"assignee", "commander", "comms_lead"}

    override = client.patch(detail_url(org, incident), {"priority": 3, "priority_reason": "Calm"})
    assert override.json()["priority"] == 3
    assert override.json()["priority_override_reason"] == "Calm"
    cleared = client.patch(
        detail_url(org, incident), {"assignee": None, "category": "", "severity": ""}
    )
    assert (cleared.json()["assignee"], cleared.json()["category"]) == (None, None)
    assert client.patch(detail_url(org, incident), {}).status_code == 200


PEOPLE = ["assignee", "commander", "comms_lead"]


@pytest.mark.parametrize("field", PEOPLE)
@pytest.mark.parametrize("role", [Role.REPORTER, Role.STAKEHOLDER])
@pytest.mark.parametrize("credential", ["session", "key"])
def test_only_members_who_work_incidents_hold_its_roles(
    api_client_for, member, api_key_for, org, credential, field, role
):
    member(role, username="person")
    incident = create(org)
    client = api_client_for(principal_for(credential, Role.RESPONDER, member, api_key_for))
    response = client.patch(detail_url(org, incident), {field: "person", "title": "Changed"})
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert f"person is a {role}" in response.json()[field][0]
    incident.refresh_from_db()
    assert (getattr(incident, field), incident.title) == (None, "Checkout is down")
    assert not incident.timeline.filter(kind=TimelineEntry.Kind.ASSIGNED).exists()


@pytest.mark.parametrize("field", PEOPLE)
@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.RESPONDER])
def test_responders_admins_and_owners_hold_incident_roles(
    api_client_for, member, org, responder, field, role
):
    person = member(role, username="person")
    incident = create(org)
    response = api_client_for(responder).patch(detail_url(org, incident), {field: "person"})
    assert response.status_code == 200, response.content
    incident.refresh_from_db()
    assert getattr(incident, field) == person


def test_a_holder_whose_role_changed_keeps_it_until_replaced(
    api_client_for, member, org, responder
):
    person = member(Role.RESPONDER, username="person")
    incident = create(org)
    services.incident_update(organization=org, actor=None, incident=incident, assignee=person)
    tenancy_services.membership_change_role(
        organization=org,
        actor=None,
        membership=Membership.objects.for_org(org).get(user=person),
        role=Role.REPORTER,
    )
    client = api_client_for(responder)
    # Other changes still save; giving the role to them again is refused only if it changes.
    unchanged = client.patch(detail_url(org, incident), {"assignee": "person", "title": "New"})
    assert unchanged.status_code == 200, unchanged.content
    refused = client.patch(detail_url(org, incident), {"commander": "person"})
    assert list(refused.json()) == ["commander"]
    assert client.patch(detail_url(org, incident), {"assignee": None}).status_code == 200
    assert list(client.patch(detail_url(org, incident), {"assignee": "person"}).json()) == [
        "assignee"
    ]


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_occurred_at_far_from_now_is_400(api_client_for, org, responder, value):
    incident = create(org)
    response = api_client_for(responder).patch(detail_url(org, incident), {"occurred_at": value})
    assert response.status_code == 400
    assert response.json() == {"occurred_at": ["Give a time between 1970 and now."]}
    incident.refresh_from_db()
    assert incident.occurred_at is None


def test_occurred_at_changes_are_recorded(api_client_for, org, responder):
    incident = create(org)
    client = api_client_for(responder)
    for value in ("2026-01-01T10:00:00Z", "2026-01-01T09:30:00+01:00", None):
        response = client.patch(detail_url(org, incident), {"occurred_at": value})
        assert response.status_code == 200, response.content
    unchanged = client.patch(detail_url(org, incident), {"occurred_at": None, "title": "Same"})
    assert unchanged.json()["occurred_at"] is None
    changes = incident.timeline.filter(data__field="occurred_at").order_by("id")
    assert [(e.data["from"], e.data["to"]) for e in changes] == [
        (None, "2026-01-01T10:00:00+00:00"),
        ("2026-01-01T10:00:00+00:00", "2026-01-01T08:30:00+00:00"),
        ("2026-01-01T08:30:00+00:00", None),
    ]


@pytest.mark.parametrize("method", ["put", "delete"])
def test_no_put_or_delete(api_client_for, member, org, method):
    incident = create(org)
    client = api_client_for(member(Role.OWNER))
    response = getattr(client, method)(detail_url(org, incident), {"title": "x"})
    assert response.status_code == 405
    assert Incident.objects.for_org(org).filter(pk=incident.pk, title=incident.title).exists()


# --- timeline, comments, status updates ---------------------------------------------------


def test_timeline_comments_and_updates(api_client_for, org, member, responder):
    reporter = member(Role.REPORTER, username="reporter")
    stakeholder = member(Role.STAKEHOLDER)
    incident = create(org, reporter=reporter)
    team_client = api_client_for(responder)
    comments = detail_url(org, incident, "incident-comment-list")
    updates = detail_url(org, incident, "incident-update-list")
    timeline = detail_url(org, incident, "incident-timeline-list")

    private = team_client.post(comments, {"body": "Looks like DNS."})
    assert private.status_code == 201, private.content
    assert private.json()["public"] is False
    assert private.json()["actor"] == "responder"
    public = team_client.post(comments, {"body": "We are on it.", "public": True})
    assert public.json()["public"] is True
    mine = api_client_for(reporter).post(comments, {"body": "Still broken", "public": False})
    assert mine.status_code == 201
    assert mine.json()["public"] is True  # reporters' comments always are
    posted = team_client.post(updates, {"body": "Mitigated; monitoring."})
    assert posted.status_code == 201
    assert set(posted.json()) == {"id", "body", "actor", "actor_label", "created_at"}
    team_client.patch(detail_url(org, incident), {"severity": "sev2"})  # a private entry

    def bodies(client, target):
        response = client.get(target)
        assert response.status_code == 200
        return [entry["body"] for entry in response.json()["results"]]

    everything = ["Looks like DNS.", "We are on it.", "Still broken"]
    assert bodies(team_client, comments) == everything
    assert bodies(api_client_for(reporter), comments) == everything[1:]
    assert bodies(api_client_for(stakeholder), comments) == everything[1:]
    assert bodies(api_client_for(stakeholder), updates) == ["Mitigated; monitoring."]
    kinds = [e["kind"] for e in team_client.get(timeline).json()["results"]]
    assert kinds == ["created", "comment", "comment", "comment", "status_update", "field_changed"]
    public_kinds = [e["kind"] for e in api_client_for(reporter).get(timeline).json()["results"]]
    assert public_kinds == ["created", "comment", "comment", "status_update"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 20_001}, "body"),
        ({"body": "a\x00"}, "body"),
        ({"body": ["x"]}, "body"),
        ({"body": "ok", "public": "maybe"}, "public"),
    ],
)
def test_bad_comments_are_400(api_client_for, org, responder, body, field):
    incident = create(org)
    response = api_client_for(responder).post(
        detail_url(org, incident, "incident-comment-list"), body
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not incident.timeline.filter(kind=TimelineEntry.Kind.COMMENT).exists()


# --- roles --------------------------------------------------------------------------------

# role: (create, change, comment, post updates, write services)
CAN = {
    Role.OWNER: (True, True, True, True, True),
    Role.ADMIN: (True, True, True, True, True),
    Role.RESPONDER: (True, True, True, True, False),
    Role.REPORTER: (True, False, True, False, False),
    Role.STAKEHOLDER: (False, False, False, False, False),
}


@pytest.mark.parametrize("credential", ["session", "api_key"])
@pytest.mark.parametrize("role", list(CAN))
def test_role_matrix(api_client_for, api_key_for, member, org, service, role, credential):
    can_create, can_change, can_comment, can_update, can_configure = CAN[role]
    principal = principal_for(credential, role, member, api_key_for)
    client = api_client_for(principal)
    incident = create(org, reporter=principal if credential == "session" else None)
    # A reporter sees what they reported; a key has no person behind it and reports nothing.
    sees = not (role == Role.REPORTER and credential == "api_key")
    read = 200 if sees else 404
    detail = detail_url(org, incident)

    listing = client.get(url(org))
    assert listing.status_code == 200
    assert len(listing.json()["results"]) == (1 if sees else 0)
    assert client.get(detail).status_code == read
    for name in ("incident-timeline-list", "incident-comment-list", "incident-update-list"):
        assert client.get(detail_url(org, incident, name)).status_code == read

    created = client.post(url(org), {"title": "Another"})
    assert created.status_code == (201 if can_create else 403)
    changed = client.patch(detail, {"title": "Renamed", "status": "acknowledged"})
    assert changed.status_code == (200 if can_change else 403)
    commented = client.post(detail_url(org, incident, "incident-comment-list"), {"body": "Hi"})
    assert commented.status_code == (403 if not can_comment else 201 if sees else 404)
    updated = client.post(detail_url(org, incident, "incident-update-list"), {"body": "Update"})
    assert updated.status_code == (201 if can_update else 403)

    assert client.get(url(org, "service-list")).status_code == 200
    assert client.get(url(org, "service-detail", slug="checkout")).status_code == 200
    assert client.get(url(org, "category-list")).status_code == 200
    new_service = client.post(url(org, "service-list"), {"slug": "mail", "name": "Mail"})
    assert new_service.status_code == (201 if can_configure else 403)
    renamed = client.patch(url(org, "service-detail", slug="checkout"), {"name": "Pay"})
    assert renamed.status_code == (200 if can_configure else 403)

    incident.refresh_from_db()
    assert incident.title == ("Renamed" if can_change else "Checkout is down")
    assert incident.status == ("acknowledged" if can_change else "new")
    assert Incident.objects.for_org(org).count() == (2 if can_create else 1)
    comments = incident.timeline.filter(kind=TimelineEntry.Kind.COMMENT)
    assert comments.count() == (1 if can_comment and sees else 0)
    assert Service.objects.for_org(org).get(slug="checkout").name == (
        "Pay" if can_configure else "Checkout"
    )


def test_reporters_see_only_what_they_reported(api_client_for, member, org, responder):
    reporter = member(Role.REPORTER)
    own = create(org, reporter=reporter, title="Mine")
    others = create(org, reporter=member(Role.REPORTER), title="Theirs")
    create(org, reporter=responder, title="The team's")
    create(org, title="From an alert")  # nobody reported it
    client = api_client_for(reporter)
    assert [i["title"] for i in client.get(url(org)).json()["results"]] == ["Mine"]
    assert client.get(detail_url(org, own)).status_code == 200
    for name in (
        "incident-detail",
        "incident-timeline-list",
        "incident-comment-list",
        "incident-update-list",
    ):
        assert client.get(detail_url(org, others, name)).status_code == 404, name
    commented = client.post(detail_url(org, others, "incident-comment-list"), {"body": "Hi"})
    assert commented.status_code == 404
    # Changing is for responders: refused on their own incident as on anyone's.
    assert client.patch(detail_url(org, own), {"title": "Mine!"}).status_code == 403
    assert client.patch(detail_url(org, others), {"title": "Ha"}).status_code == 403
    assert not others.timeline.filter(kind=TimelineEntry.Kind.COMMENT).exists()
    created = client.post(url(org), {"title": "Printer on fire"})
    assert created.json()["reporter"] == reporter.username
    number = created.json()["number"]
    assert client.get(url(org, "incident-detail", number=number)).status_code == 200


# --- cross-organization -------------------------------------------------------------------


@pytest.mark.parametrize("credential", ["session", "api_key"])
def test_another_organizations_incidents_answer_404(
    api_client_for, api_key_for, member, org, other_org, foreign, credential
):
    create(org)  # number 1 here; the other organization's newest is 5
    theirs = foreign["incident"]
    assert not Incident.objects.for_org(org).filter(number=theirs.number).exists()
    client = api_client_for(principal_for(credential, Role.OWNER, member, api_key_for))
    before = (TimelineEntry.objects.unscoped().count(), theirs.title, theirs.status)
    for target_org in (org, other_org):
        for name in (
            "incident-detail",
            "incident-timeline-list",
            "incident-comment-list",
            "incident-update-list",
        ):
            target = url(target_org, name, number=theirs.number)
            assert client.get(target).status_code == 404
            if name == "incident-timeline-list":
                continue  # read-only
            body = {"body": "x", "title": "Planted", "status": "acknowledged"}
            method = client.patch if name == "incident-detail" else client.post
            response = method(target, body)
            assert response.status_code == 404, (name, response.status_code)
            assert b"Secret" not in response.content
        assert client.get(url(target_org, "incident-list")).status_code == (
            200 if target_org == org else 404
        )
        assert client.post(url(other_org, "incident-list"), {"title": "x"}).status_code == 404
    see(org, other_org)
    theirs.refresh_from_db()
    after = (TimelineEntry.objects.unscoped().count(), theirs.title, theirs.status)
    assert after == before
    listed = client.get(url(org)).json()["results"]
    assert [i["title"] for i in listed] == ["Checkout is down"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service", "vault"),
        ("category", "espionage"),
        ("team", "secret"),
    ],
)
def test_another_organizations_slugs_are_not_found_on_create(
    api_client_for, member, org, foreign, field, value
):
    client = api_client_for(member(Role.OWNER))
    response = client.post(url(org), {"title": "Linked?", field: value})
    assert response.status_code == 400
    assert response.json() == {field: ["Not found."]}
    assert not Incident.objects.for_org(org).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service", "vault"),
        ("category", "espionage"),
        ("team", "secret"),
        ("assignee", "stranger"),
        ("commander", "stranger"),
        ("comms_lead", "stranger"),
    ],
)
def test_another_organizations_objects_are_not_found_on_patch(
    api_client_for, member, org, foreign, field, value
):
    incident = create(org)
    response = api_client_for(member(Role.OWNER)).patch(
        detail_url(org, incident), {field: value, "title": "Changed"}
    )
    assert response.status_code == 400
    assert response.json() == {field: ["Not found."]}
    incident.refresh_from_db()
    assert incident.title == "Checkout is down"
    assert getattr(incident, field) is None


def test_another_organizations_services_answer_404(api_client_for, member, org, foreign, team):
    client = api_client_for(member(Role.OWNER))
    target = url(org, "service-detail", slug="vault")
    assert client.get(target).status_code == 404
    assert client.patch(target, {"name": "Mine"}).status_code == 404
    assert client.delete(target).status_code == 404
    linked = client.post(
        url(org, "service-list"), {"slug": "linked", "name": "Linked", "team": "secret"}
    )
    assert linked.status_code == 400
    assert linked.json() == {"team": ["Not found."]}
    assert Service.objects.unscoped().get(pk=foreign["service"].pk).name == "Vault"
    assert not Service.objects.for_org(org).exists()
    assert [s["slug"] for s in client.get(url(org, "service-list")).json()["results"]] == []
    categories = client.get(url(org, "category-list")).json()["results"]
    assert "espionage" not in {c["slug"] for c in categories}


def test_same_service_slug_in_two_organizations(api_client_for, member, org, foreign):
    client = api_client_for(member(Role.ADMIN))
    created = client.post(url(org, "service-list"), {"slug": "vault", "name": "Ours"})
    assert created.status_code == 201
    see(org, foreign["service"].organization)
    assert Service.objects.unscoped().filter(slug="vault").count() == 2


# --- bad input ----------------------------------------------------------------------------

BAD_CREATE = [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "a\x00b"}, "title"),
    ({"title": ["x"]}, "title"),
    ({"title": {"a": 1}}, "title"),
    ({"title": None}, "title"),
    ({"title": "ok", "description": "\x00"}, "description"),
    ({"title": "ok", "description": "x" * 50_001}, "description"),
    ({"title": "ok", "impact": 0}, "impact"),
    ({"title": "ok", "impact": 4}, "impact"),
    ({"title": "ok", "impact": "high"}, "impact"),
    ({"title": "ok", "impact": True}, "impact"),
    ({"title": "ok", "impact": 1.5}, "impact"),
    ({"title": "ok", "urgency": -1}, "urgency"),
    ({"title": "ok", "severity": "sev9"}, "severity"),
    ({"title": "ok", "severity": 1}, "severity"),
    ({"title": "ok", "source": "carrier-pigeon"}, "source"),
    ({"title": "ok", "occurred_at": "yesterday"}, "occurred_at"),
    ({"title": "ok", "occurred_at": "2026-02-30T10:00:00Z"}, "occurred_at"),
    ({"title": "ok", "occurred_at": 1700000000}, "occurred_at"),
    ({"title": "ok", "occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at"),
    ({"title": "ok", "detected_at": "0001-01-01T00:00:00+14:00"}, "detected_at"),
    # In range for Python, but the SLA clock and the organization's time zone overflow.
    ({"title": "ok", "detected_at": "9999-12-31T23:59:59Z"}, "detected_at"),
    ({"title": "ok", "detected_at": "0001-01-01T00:00:00Z"}, "detected_at"),
    ({"title": "ok", "occurred_at": "9999-12-31T23:59:59Z"}, "occurred_at"),
    ({"title": "ok", "occurred_at": "1969-12-31T23:59:59Z"}, "occurred_at"),
    ({"title": "ok", "error_codes": "E1"}, "error_codes"),
    ({"title": "ok", "error_codes": {"a": "b"}}, "error_codes"),
    ({"title": "ok", "error_codes": ["x" * 65]}, "error_codes"),
    ({"title": "ok", "error_codes": [["nested"]]}, "error_codes"),
    ({"title": "ok", "error_codes": ["E"] * 51}, "error_codes"),
    ({"title": "ok", "tags": ["t"] * 10_000}, "tags"),
    ({"title": "ok", "tags": ["\x00"]}, "tags"),
    ({"title": "ok", "tags": [None]}, "tags"),
    ({"title": "ok", "service": "no-such-service"}, "service"),
    ({"title": "ok", "service": 7}, "service"),
    ({"title": "ok", "service": ["checkout"]}, "service"),
    ({"title": "ok", "service": "a\x00"}, "service"),
    ({"title": "ok", "service": "s" * 5000}, "service"),
    ({"title": "ok", "team": "has spaces"}, "team"),
    ({"title": "ok", "category": {"slug": "software"}}, "category"),
    ({"title": "ok", "dedup_key": "k" * 256}, "dedup_key"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATE)
def test_bad_create_input_is_400(api_client_for, org, responder, service, body, field):
    response = api_client_for(responder).post(url(org), body)
    assert response.status_code == 400, (body, response.content)
    assert field in response.json(), response.json()
    assert not Incident.objects.for_org(org).exists()


@pytest.mark.parametrize(
    "raw",
    [
        '{"title": "\\ud800"}',
        '{"title": "ok", "tags": ["\\udfff"]}',
        '{"title": "ok", "team": "\\ud800"}',
        '{"title": "ok", "impact": 1e400}',
        '{"title": "ok"',
        "[1, 2]",
        '"title"',
        "null",
    ],
)
def test_malformed_json_is_400(api_client_for, org, responder, raw):
    response = api_client_for(responder).post(url(org), raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Incident.objects.for_org(org).exists()


BAD_PATCH = [
    ({"status": "done"}, "status"),
    ({"status": None}, "status"),
    ({"status": ["resolved"]}, "status"),
    ({"note": "without a status"}, "note"),
    ({"status": "acknowledged", "note": "\x00"}, "note"),
    ({"priority": 1}, "priority_reason"),
    ({"priority": 1, "priority_reason": "  "}, "priority_reason"),
    ({"priority": 0, "priority_reason": "Why"}, "priority"),
    ({"priority": 6, "priority_reason": "Why"}, "priority"),
    ({"priority_reason": "Why"}, "priority"),
    ({"priority": 1, "priority_reason": "x" * 501}, "priority_reason"),
    ({"title": ""}, "title"),
    ({"title": None}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"impact": 4}, "impact"),
    ({"urgency": 0}, "urgency"),
    ({"assignee": 12}, "assignee"),
    ({"assignee": "nobody"}, "assignee"),
    ({"assignee": "bad name!"}, "assignee"),
    ({"commander": "u" * 151}, "commander"),
    ({"tags": ["x"] * 51}, "tags"),
    ({"occurred_at": "not a date"}, "occurred_at"),
    ({"root_cause": "\x00"}, "root_cause"),
    ({"resolution": ["x"]}, "resolution"),
]


@pytest.mark.parametrize(("body", "field"), BAD_PATCH)
def test_bad_patch_input_is_400(api_client_for, org, responder, body, field):
    incident = create(org)
    entries = incident.timeline.count()
    response = api_client_for(responder).patch(detail_url(org, incident), body)
    assert response.status_code == 400, (body, response.content)
    assert field in response.json(), response.json()
    after = Incident.objects.for_org(org).get(pk=incident.pk)
    assert (after.title, after.status, after.priority) == ("Checkout is down", "new", 5)
    assert after.timeline.count() == entries


@pytest.mark.parametrize("number", ["0", "abc", "99999999999999999999", "1e3", "-1", "+1", "١"])
def test_odd_incident_numbers_are_404(api_client_for, org, responder, number):
    create(org)
    client = api_client_for(responder)
    for name in ("incident-detail", "incident-timeline-list", "incident-comment-list"):
        assert client.get(url(org, name, number=number)).status_code == 404


# --- services and categories --------------------------------------------------------------


def test_service_crud(api_client_for, member, org, team):
    admin = member(Role.ADMIN, username="boss")
    client = api_client_for(admin)
    created = client.post(
        url(org, "service-list"),
        {"slug": "api", "name": "Public API", "team": "platform", "status": "degraded"},
    )
    assert created.status_code == 201, created.content
    assert created.json() == {
        "slug": "api",
        "name": "Public API",
        "description": "",
        "team": "platform",
        "status": "degraded",
        "alert_severity_map": {},  # the defaults
        "escalation_policy": None,  # on-call's: none, the team's pages
        "created_at": created.json()["created_at"],
    }
    detail = url(org, "service-detail", slug="api")
    assert client.get(detail).json()["name"] == "Public API"
    changed = client.patch(detail, {"name": "API", "team": None, "status": "operational"})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["team"]) == ("API", None)
    listing = client.get(url(org, "service-list")).json()["results"]
    assert [s["slug"] for s in listing] == ["api"]
    assert client.put(detail, {"slug": "api", "name": "x"}).status_code == 405
    assert client.delete(detail).status_code == 204
    assert not Service.objects.for_org(org).exists()
    actions = AuditEvent.objects.for_org(org).filter(target_type="service")
    assert list(actions.order_by("id").values_list("action", flat=True)) == [
        "service.created",
        "service.updated",
        "service.deleted",
    ]


def test_service_validation_and_conflicts(api_client_for, member, org, service):
    client = api_client_for(member(Role.OWNER))
    services.service_create(organization=org, actor=None, slug="search", name="Search")
    cases = [
        ({"slug": "no spaces!", "name": "x"}, "slug"),
        ({"slug": "ok", "name": ""}, "name"),
        ({"slug": "ok", "name": "x" * 201}, "name"),
        ({"slug": "ok", "name": "x", "status": "on_fire"}, "status"),
        ({"slug": "ok", "name": "x", "team": 3}, "team"),
        ({"slug": "ok", "name": "\x00"}, "name"),
    ]
    for body, field in cases:
        response = client.post(url(org, "service-list"), body)
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()
    duplicate = client.post(url(org, "service-list"), {"slug": "checkout", "name": "Again"})
    assert duplicate.status_code == 409
    assert "slug" in duplicate.json()
    renamed = client.patch(url(org, "service-detail", slug="search"), {"slug": "checkout"})
    assert renamed.status_code == 409
    assert Service.objects.for_org(org).count() == 2


def test_categories_are_listed_read_only(api_client_for, member, org):
    Category.objects.for_org(org).filter(slug="hardware").update(is_active=False)
    client = api_client_for(member(Role.OWNER))
    listing = client.get(url(org, "category-list")).json()["results"]
    assert [c["slug"] for c in listing] == sorted(
        ["software", "hardware", "network", "security", "service_request", "other"]
    )
    assert {c["slug"]: c["is_active"] for c in listing}["hardware"] is False
    assert client.post(url(org, "category-list"), {"slug": "x", "name": "X"}).status_code == 405
    # An inactive category cannot be given to an incident.
    response = client.post(url(org), {"title": "Disk", "category": "hardware"})
    assert response.status_code == 400
    assert response.json() == {"category": ["Not found."]}


# --- query counts -------------------------------------------------------------------------

# Measured. SQLite with a session: session, user, organization, role, the page (select_related
# brings every slug and username along). A key: the key, (its last_used_at, at most once a
# minute), the organization, the page. PostgreSQL adds the request's savepoint and its release
# and the row-level security settings. Timeline pages first fetch the incident, and read the
# names of the people their entries name: two more.
MAX_QUERIES = {  # one more, where incidents are listed: on-call's escalations of the page
    ("sqlite", "session"): 6,
    ("sqlite", "api_key"): 5,
    ("postgresql", "session"): 10,
    ("postgresql", "api_key"): 10,
}


@pytest.mark.parametrize("credential", ["session", "api_key"])
@pytest.mark.parametrize("page_size", [1, 50])
def test_query_counts_do_not_grow_with_the_page(
    api_client_for,
    api_key_for,
    member,
    org,
    team,
    service,
    page_size,
    credential,
    django_assert_max_num_queries,
):
    people = [member(Role.RESPONDER) for _ in range(3)]
    category = Category.objects.for_org(org).get(slug="software")
    for index in range(55):
        incident = create(
            org, reporter=people[0], title=f"#{index}", service=service, category=category
        )
        services.incident_update(
            organization=org,
            actor=None,
            incident=incident,
            assignee=people[index % 3],
            commander=people[(index + 1) % 3],
            comms_lead=people[(index + 2) % 3],
        )
    first = Incident.objects.for_org(org).get(number=1)
    for index in range(55):
        services.incident_comment(
            organization=org, actor=people[index % 3], incident=first, body=f"c{index}"
        )
        services.incident_post_update(
            organization=org, actor=people[index % 3], incident=first, body=f"u{index}"
        )
    client = api_client_for(principal_for(credential, Role.RESPONDER, member, api_key_for))
    limit = MAX_QUERIES[connection.vendor, credential]
    page = {"page_size": page_size}

    with django_assert_max_num_queries(limit):
        response = client.get(url(org), page)
    assert len(response.json()["results"]) == page_size
    assert all(i["assignee"] and i["team"] == "platform" for i in response.json()["results"])
    with django_assert_max_num_queries(limit):
        assert client.get(url(org, "incident-detail", number=page_size)).status_code == 200
    with django_assert_max_num_queries(limit):
        assert len(client.get(url(org, "service-list"), page).json()["results"]) == 1
    for name in ("incident-timeline-list", "incident-comment-list", "incident-update-list"):
        with django_assert_max_num_queries(limit + (2 if name == "incident-timeline-list" else 1)):
            response = client.get(url(org, name, number=1), page)
        assert len(response.json()["results"]) == page_size, name


def test_the_schema_documents_the_incident_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/orgs/{org}/incidents/",
        "/api/v1/orgs/{org}/incidents/{number}/",
        "/api/v1/orgs/{org}/incidents/{number}/timeline/",
        "/api/v1/orgs/{org}/incidents/{number}/comments/",
        "/api/v1/orgs/{org}/incidents/{number}/updates/",
        "/api/v1/orgs/{org}/services/",
        "/api/v1/orgs/{org}/services/{slug}/",
        "/api/v1/orgs/{org}/categories/",
    ):
        assert path in schema["paths"], path
    assert "put" not in schema["paths"]["/api/v1/orgs/{org}/incidents/{number}/"]


@pytest.mark.parametrize("role", [Role.OWNER, Role.REPORTER, Role.STAKEHOLDER])
def test_the_browsable_api_renders(api_client_for, member, org, service, role):
    user = member(role)
    incident = create(org, reporter=user, service=service)
    client = api_client_for(user)
    for target in (
        url(org),
        detail_url(org, incident),
        detail_url(org, incident, "incident-comment-list"),
        detail_url(org, incident, "incident-update-list"),
        detail_url(org, incident, "incident-timeline-list"),
        url(org, "service-list"),
        url(org, "service-detail", slug="checkout"),
        url(org, "category-list"),
    ):
        response = client.get(target, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, target
        assert response["Content-Type"].startswith("text/html")
