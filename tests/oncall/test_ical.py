"""Calendar feeds (export, tokens) and .ics import of overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from oncall import ical
from oncall.models import Override
from oncall.services import schedules as services
from tenancy import services as tenancy_services
from tenancy.models import Role
from tests.conftest import see

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def url(org, name, **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


@pytest.fixture
def team(member):
    return {name: member(Role.RESPONDER, username=name) for name in ("alice", "bob", "carol")}


@pytest.fixture
def primary(org, team):
    layer = {
        "name": "Primary",
        "rotation_start": datetime(2026, 1, 5).date(),
        "participants": ["alice", "bob"],
    }
    return services.schedule_create(organization=org, actor=None, name="Primary", layers=[layer])


def events(response):
    assert response["Content-Type"].startswith("text/calendar")
    return list(icalendar.Calendar.from_ical(response.content).walk("VEVENT"))


def test_the_schedule_feed_has_one_event_per_person_and_stretch(
    api_client_for, member, org, primary, team
):
    services.override_create(
        organization=org,
        actor=None,
        schedule=primary,
        user=team["carol"],
        start=datetime(2026, 1, 8, 8, tzinfo=UTC),
        end=datetime(2026, 1, 8, 20, tzinfo=UTC),
    )
    client = api_client_for(member(Role.STAKEHOLDER))

    feed = events(client.get(url(org, "schedule-ical", schedule=primary.pk), {"weeks": 2}))

    spans = [(e["summary"], e["dtstart"].dt, e["dtend"].dt) for e in feed]
    assert spans[:4] == [
        (
            "On call: Primary (alice)",
            datetime(2026, 1, 5, 9, tzinfo=UTC),
            datetime(2026, 1, 8, 8, tzinfo=UTC),
        ),
        (
            "On call: Primary (carol)",
            datetime(2026, 1, 8, 8, tzinfo=UTC),
            datetime(2026, 1, 8, 20, tzinfo=UTC),
        ),
        (
            "On call: Primary (alice)",
            datetime(2026, 1, 8, 20, tzinfo=UTC),
            datetime(2026, 1, 12, 9, tzinfo=UTC),
        ),
        (
            "On call: Primary (bob)",
            datetime(2026, 1, 12, 9, tzinfo=UTC),
            datetime(2026, 1, 19, 9, tzinfo=UTC),
        ),
    ]
    assert spans[-1][2] == datetime(2026, 1, 21, tzinfo=UTC)
    assert str(feed[0]["attendee"]) == "mailto:alice@example.com"


def test_uids_stay_the_same_from_one_refresh_to_the_next(api_client_for, member, org, primary):
    client = api_client_for(member(Role.RESPONDER))
    path = url(org, "schedule-ical", schedule=primary.pk)

    first = {str(e["uid"]): e["dtstart"].dt for e in events(client.get(path))}
    with time_machine.travel(NOW + timedelta(days=2, hours=3), tick=False):
        later = {str(e["uid"]): e["dtstart"].dt for e in events(client.get(path))}

    assert len(first) >= 8
    assert len(set(first)) == len(first)
    shared = set(first) & set(later)
    assert len(shared) >= len(first) - 1  # the window moved on, the shifts kept their UIDs
    assert all(first[uid] == later[uid] for uid in shared)


def test_my_shifts_through_a_token_without_headers(api_client_for, org, other_org, primary, team):
    alice = team["alice"]
    token = api_client_for(alice).get(url(org, "my-shifts-ical-token")).json()
    assert token["my_shifts_url"].endswith(url(org, "my-shifts-ical") + "?token=" + token["token"])

    anonymous = APIClient()
    mine = events(anonymous.get(url(org, "my-shifts-ical"), {"token": token["token"]}))
    assert {str(e["summary"]) for e in mine} == {"On call: Primary (alice)"}
    assert [e["dtstart"].dt for e in mine][:2] == [
        datetime(2026, 1, 5, 9, tzinfo=UTC),
        datetime(2026, 1, 19, 9, tzinfo=UTC),
    ]
    schedule_feed = anonymous.get(
        url(org, "schedule-ical", schedule=primary.pk), {"token": token["token"]}
    )
    assert schedule_feed.status_code == 200
    # The token opens the feeds only, of its own organization only.
    assert anonymous.get(url(org, "schedule-list"), {"token": token["token"]}).status_code in (
        401,
        403,
    )
    tenancy_services.membership_create(
        organization=other_org, actor=None, user=alice, role=Role.ADMIN
    )
    assert (
        anonymous.get(url(other_org, "my-shifts-ical"), {"token": token["token"]}).status_code
        == 404
    )
    forged = token["token"][:-2] + ("AA" if not token["token"].endswith("AA") else "BB")
    assert anonymous.get(url(org, "my-shifts-ical"), {"token": forged}).status_code in (401, 403)
    alice.set_password("a-brand-new-password-2")
    alice.save()
    assert anonymous.get(url(org, "my-shifts-ical"), {"token": token["token"]}).status_code in (
        401,
        403,
    )


def test_feeds_refuse_reporters_and_other_organizations(
    api_client_for, member, org, other_org, primary, api_key_for
):
    path = url(org, "schedule-ical", schedule=primary.pk)
    assert api_client_for(member(Role.REPORTER)).get(path).status_code == 403
    assert api_client_for(member(Role.OWNER, organization=other_org)).get(path).status_code == 404
    assert (
        api_client_for(api_key_for(Role.OWNER, organization=other_org)).get(path).status_code == 404
    )
    assert (
        api_client_for(api_key_for(Role.OWNER)).get(url(org, "my-shifts-ical")).status_code == 400
    )
    outsider = api_client_for(member(Role.OWNER, organization=other_org))
    assert outsider.get(url(org, "my-shifts-ical")).status_code == 404
    assert outsider.get(url(org, "my-shifts-ical-token")).status_code == 404


CALENDAR = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//EN\r
BEGIN:VEVENT\r
UID:one\r
SUMMARY:Cover\r
ATTENDEE;CN=Carol:mailto:CAROL@example.com\r
DTSTART:20260110T080000Z\r
DTEND:20260110T200000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:two\r
SUMMARY:bob\r
DTSTART;TZID=Europe/Berlin:20260111T090000\r
DURATION:PT6H\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:three\r
SUMMARY:mallory\r
DTSTART:20260112T080000Z\r
DTEND:20260112T200000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:four\r
SUMMARY:bob\r
DTSTART:20260112T080000Z\r
DTEND:20260111T200000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.mark.parametrize("how", ["multipart", "text/calendar"])
def test_import_makes_an_override_per_event_and_reports_the_rest(
    api_client_for, member, org, other_org, primary, team, how
):
    member(Role.RESPONDER, organization=other_org, username="mallory")
    client = api_client_for(team["carol"])
    path = url(org, "schedule-import-calendar", pk=primary.pk)
    if how == "multipart":
        upload = SimpleUploadedFile("cover.ics", CALENDAR, content_type="text/calendar")
        response = client.post(path, {"file": upload}, format="multipart")
    else:
        response = client.post(path, CALENDAR, content_type="text/calendar")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["created"] == 2
    assert [(e["event"], e["uid"]) for e in body["errors"]] == [(3, "three"), (4, "four")]
    assert "mallory" in body["errors"][0]["error"]
    see(org)
    overrides = list(
        Override.objects.for_org(org)
        .order_by("start")
        .values_list("user__username", "start", "end")
    )
    berlin_nine = datetime(2026, 1, 11, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert overrides == [
        ("carol", datetime(2026, 1, 10, 8, tzinfo=UTC), datetime(2026, 1, 10, 20, tzinfo=UTC)),
        ("bob", berlin_nine, berlin_nine + timedelta(hours=6)),
    ]


def test_importing_the_same_file_again_changes_nothing(api_client_for, org, primary, team):
    client = api_client_for(team["carol"])
    path = url(org, "schedule-import-calendar", pk=primary.pk)
    first = client.post(path, CALENDAR, content_type="text/calendar").json()
    again = client.post(path, CALENDAR, content_type="text/calendar").json()
    assert (first["created"], first["unchanged"]) == (2, 0)
    assert (again["created"], again["unchanged"]) == (0, 2)
    assert len(again["errors"]) == 2, "what could not be imported is still said"
    see(org)
    assert Override.objects.for_org(org).count() == 2


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
        b"\xff\xfe\x00" * 10,
        b"A" * 1_000_001,
    ],
)
def test_import_refuses_garbage_and_large_files_with_a_field_error(
    api_client_for, org, primary, team, content
):
    response = api_client_for(team["carol"]).post(
        url(org, "schedule-import-calendar", pk=primary.pk), content, content_type="text/calendar"
    )
    assert response.status_code == 400
    assert "file" in response.json()
    see(org)
    assert not Override.objects.for_org(org).exists()


def test_import_without_a_file_is_a_field_error(api_client_for, org, primary, team):
    client = api_client_for(team["carol"])
    path = url(org, "schedule-import-calendar", pk=primary.pk)
    for data in ({}, {"file": "not a file"}):
        response = client.post(path, data, format="multipart")
        assert response.status_code == 400
        assert "file" in response.json()


def test_import_needs_the_right_to_add_overrides(api_client_for, member, org, primary):
    path = url(org, "schedule-import-calendar", pk=primary.pk)
    for role in (Role.STAKEHOLDER, Role.REPORTER):
        response = api_client_for(member(role)).post(path, CALENDAR, content_type="text/calendar")
        assert response.status_code == 403


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    "BEGIN:VCALENDAR",
                    "END:VCALENDAR",
                    "BEGIN:VEVENT",
                    "END:VEVENT",
                    "DTSTART:20260101T000000Z",
                    "DTSTART:2026",
                    "DTSTART;VALUE=DATE:20260101",
                    "DTEND:20251231T000000Z",
                    "DURATION:P1D",
                    "DURATION:xx",
                    "SUMMARY:bob",
                    "ATTENDEE:mailto:",
                    "ORGANIZER:x",
                    "DTSTART;TZID=Nowhere/X:20260101T000000",
                ]
            ),
            max_size=12,
        ).map(lambda lines: "\r\n".join(lines).encode()),
    )
)
def test_the_parser_never_raises(data):
    items, error = ical.parse(data, ZoneInfo("Europe/Berlin"))
    assert isinstance(error, str)
    for item in items:
        assert item.error or (item.start is not None and item.end is not None and item.names)
