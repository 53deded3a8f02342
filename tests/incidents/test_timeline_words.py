"""Timeline entries read like a person wrote them, in the portal, the API's ``summary`` and a
review's pre-filled timeline; what is stored stays as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from incidents import services, sla_policy, timeline
from incidents.models import Category, TimelineEntry
from incidents.states import Status
from reviews import services as review_services
from tenancy import services as tenancy_services
from tenancy.models import Role

pytestmark = pytest.mark.django_db
Kind = TimelineEntry.Kind


def check_sla_a_month_later(organization) -> int:
    with time_machine.travel(timezone.now() + timedelta(days=30), tick=False):
        return sla_policy.check_organization(organization.pk)


@pytest.fixture
def paris(make_org):
    return tenancy_services.organization_create(
        slug="paris", name="Paris", timezone_name="Europe/Paris"
    )


@pytest.fixture
def people(paris, member):
    carol = member(Role.RESPONDER, organization=paris, username="carol")
    carol.first_name, carol.last_name = "Carol", "Reyes"
    carol.save()
    dave = member(Role.RESPONDER, organization=paris, username="dave")  # no full name
    return carol, dave


def words(organization, incident) -> list[str]:
    entries = list(TimelineEntry.objects.for_org(organization).filter(incident=incident))
    return [entry.summary for entry in timeline.describe_all(organization, entries)]


def last_words(organization, incident) -> str:
    return words(organization, incident)[-1]


def open_incident(organization, **fields):
    return services.incident_create(
        organization=organization, actor=None, title="Checkout is down", **fields
    )


def test_created(paris):
    assert words(paris, open_incident(paris)) == ["reported the incident"]
    assert words(paris, open_incident(paris, source="api")) == [
        "opened the incident through the API"
    ]
    assert words(paris, open_incident(paris, source="alert")) == [
        "opened the incident from an alert"
    ]


def test_people_by_their_full_name(paris, people):
    carol, dave = people
    incident = open_incident(paris)

    def update(actor=dave, **changes):
        services.incident_update(organization=paris, actor=actor, incident=incident, **changes)
        return last_words(paris, incident)

    assert update(assignee=carol) == "assigned Carol Reyes"
    assert update(actor=carol, assignee=dave) == "assigned dave"  # no full name: the username
    assert update(actor=carol, assignee=carol) == "took the incident"
    assert update(assignee=None) == "unassigned Carol Reyes"
    assert update(commander=carol) == "made Carol Reyes the incident commander"
    assert update(commander=None) == "removed Carol Reyes as incident commander"
    assert update(comms_lead=carol) == "made Carol Reyes the comms lead"
    assert update(comms_lead=dave) == "made dave the comms lead"
    assert update(comms_lead=None) == "removed dave as comms lead"
    # The stored record keeps the usernames.
    entry = TimelineEntry.objects.for_org(paris).filter(kind=Kind.ASSIGNED).first()
    assert entry.data == {"field": "assignee", "from": None, "to": "carol"}
    # Someone who left the organization is named by their username.
    tenancy_services.membership_remove(
        organization=paris,
        actor=None,
        membership=carol.memberships.get(organization=paris),
    )
    assert words(paris, incident)[1] == "assigned carol"


def test_sla_flags_read_as_events(paris):
    incident = open_incident(paris, impact=1, urgency=1)
    assert check_sla_a_month_later(paris) == 1
    assert words(paris, incident)[1:] == [
        "missed the response target",
        "missed the resolution target",
    ]
    stored = TimelineEntry.objects.for_org(paris).filter(incident=incident).last().data
    assert stored == {"field": "resolve_breached", "from": False, "to": True}


def test_priorities_severities_levels_and_statuses(paris):
    incident = open_incident(paris)

    def update(**changes):
        services.incident_update(organization=paris, actor=None, incident=incident, **changes)
        return last_words(paris, incident)

    assert update(severity="sev2") == "set the severity to SEV2"
    assert update(severity="sev1") == "changed the severity from SEV2 to SEV1"
    assert update(severity="") == "changed the severity from SEV1 to none"
    assert update(impact=1) == "changed the impact from Low to High"
    assert update(urgency=2) == "changed the urgency from Low to Medium"
    services.incident_override_priority(
        organization=paris, actor=None, incident=incident, priority=1, reason="CEO"
    )
    assert last_words(paris, incident) == "overrode the priority from P2 to P1"
    services.incident_transition(
        organization=paris, actor=None, incident=incident, status=Status.ACKNOWLEDGED
    )
    assert last_words(paris, incident) == "changed the status from New to Acknowledged"
    services.incident_transition(
        organization=paris, actor=None, incident=incident, status=Status.ON_HOLD
    )
    assert last_words(paris, incident) == "changed the status from Acknowledged to On hold"


def test_fields_texts_lists_and_times(paris):
    incident = open_incident(paris)
    service = services.service_create(
        organization=paris, actor=None, slug="checkout", name="Checkout"
    )
    team = tenancy_services.team_create(
        organization=paris, actor=None, slug="platform", name="Platform"
    )
    network = Category.objects.for_org(paris).get(slug="network")

    def update(**changes):
        services.incident_update(organization=paris, actor=None, incident=incident, **changes)
        return last_words(paris, incident)

    assert update(service=service) == "set the service to Checkout"
    assert update(team=team) == "set the team to Platform"
    assert update(category=network) == "set the category to Network"
    assert update(category=None) == "changed the category from Network to none"
    assert update(tags=["db", "network"]) == "set the tags to db, network"
    assert update(tags=[]) == "changed the tags from db, network to none"
    assert update(error_codes=["E42"]) == "set the error codes to E42"
    assert update(title="Payments are down") == "renamed the incident “Payments are down”"
    for field in ("description", "resolution", "root_cause"):
        label = field.replace("_", " ")
        assert update(**{field: "Something."}) == f"edited the {label}"
    # Times in the organization's time zone, with the zone.
    started = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    assert update(occurred_at=started) == "set the start time to 2026-01-15 11:00 CET"


def test_comments_updates_attachments_reviews_and_other_kinds(paris):
    incident = open_incident(paris)
    services.incident_comment(organization=paris, actor=None, incident=incident, body="Hi")
    assert last_words(paris, incident) == "commented"
    services.incident_post_update(organization=paris, actor=None, incident=incident, body="Fix")
    assert last_words(paris, incident) == "posted a status update"

    def entry(kind, **data):
        return TimelineEntry(organization=paris, incident=incident, kind=kind, data=data)

    assert timeline.describe(entry(Kind.ATTACHMENT_ADDED, name="log.txt")) == "attached log.txt"
    assert timeline.describe(entry(Kind.ATTACHMENT_REMOVED, name="a")) == (
        "removed the attachment a"
    )
    assert timeline.describe(entry(Kind.NOTIFICATION)) == "sent a notification"
    assert timeline.describe(entry(Kind.AUTOMATION)) == "ran an automation"
    incident = services.incident_transition(
        organization=paris, actor=None, incident=incident, status=Status.RESOLVED, resolution="x"
    )
    review = review_services.review_create(organization=paris, actor=None, incident=incident)
    review_services.review_publish(organization=paris, actor=None, review=review)
    assert last_words(paris, incident) == "published the post-incident review"


def test_the_portal_and_the_api_use_the_words(paris, people, member, client_for, api_client_for):
    carol, dave = people
    incident = open_incident(paris, impact=1, urgency=1)
    services.incident_update(organization=paris, actor=dave, incident=incident, assignee=carol)
    check_sla_a_month_later(paris)
    owner = member(Role.OWNER, organization=paris)

    page = client_for(owner).get(
        reverse("incidents:detail", kwargs={"org": paris.slug, "number": incident.number})
    )
    html = page.content.decode()
    assert "assigned Carol Reyes" in html
    assert "missed the response target" in html
    assert "from False to True" not in html

    response = api_client_for(owner).get(
        reverse("incident-timeline-list", kwargs={"org": paris.slug, "number": incident.number})
    )
    results = response.json()["results"]
    assert [entry["summary"] for entry in results] == [
        "reported the incident",
        "assigned Carol Reyes",
        "missed the response target",
        "missed the resolution target",
    ]
    assert results[1]["data"] == {"field": "assignee", "from": None, "to": "carol"}


def test_the_review_timeline_uses_the_words(paris, people):
    carol, dave = people
    incident = open_incident(paris)
    services.incident_comment(
        organization=paris, actor=carol, incident=incident, body="On it", is_public=True
    )
    services.incident_update(organization=paris, actor=dave, incident=incident, assignee=carol)
    incident = services.incident_transition(
        organization=paris, actor=carol, incident=incident, status=Status.RESOLVED, resolution="x"
    )
    review = review_services.review_create(organization=paris, actor=carol, incident=incident)
    lines = review.timeline_summary.splitlines()
    assert lines[1].endswith("— Carol Reyes — Commented: On it")
    assert lines[2].endswith("— dave — Assigned (internal)")  # not for stakeholders' eyes
    assert lines[3].endswith("— Carol Reyes — Changed the status from New to Resolved")


def test_the_admin_shows_the_words(paris, people, member, client_for):
    _, dave = people
    incident = open_incident(paris, impact=1, urgency=1)
    services.incident_update(organization=paris, actor=dave, incident=incident, severity="sev2")
    check_sla_a_month_later(paris)
    page = client_for(member(Role.OWNER, organization=paris)).get(
        reverse("admin:incidents_incident_change", args=[incident.pk])
    )
    html = page.content.decode()
    assert "What happened" in html
    assert "set the severity to SEV2" in html
    assert "missed the resolution target" in html
