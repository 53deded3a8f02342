"""The services pages and the incident page's alerts panel: what each role sees (an
integration's key only by admins), across organizations, escaped, and in a constant number
of queries."""

from __future__ import annotations

import html
import json
import re
import shlex
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import groups
from alerts.models import Alert, ChangeEvent, Integration
from alerts.panels import incident_alerts
from incidents import services as incident_services
from incidents.models import Incident
from tenancy import rls
from tenancy import services as tenancy_services
from tenancy.models import Role

pytestmark = pytest.mark.django_db

Kind = Integration.Kind
ADMINS = [Role.OWNER, Role.ADMIN]
NOT_ADMINS = [Role.RESPONDER, Role.STAKEHOLDER, Role.REPORTER]


def text(response) -> str:
    return response.content.decode()


def services_url(org, slug=None) -> str:
    if slug is None:
        return reverse("services:list", kwargs={"org": org.slug})
    return reverse("services:detail", kwargs={"org": org.slug, "service": slug})


def incident_url(org, incident) -> str:
    return reverse("incidents:detail", kwargs={"org": org.slug, "number": incident.number})


@pytest.fixture
def people(member):
    return {role: member(role, username=f"{role}-user") for role in Role}


@pytest.fixture
def team(org):
    return tenancy_services.team_create(
        organization=org, actor=None, slug="storage", name="Storage"
    )


@pytest.fixture
def database(org, team):
    return incident_services.service_create(
        organization=org,
        actor=None,
        slug="database",
        name="Database",
        team=team,
        description="The primary PostgreSQL cluster.",
        status="degraded",
    )


def make_integration(org, service, kind, name=None, **fields):
    with rls.tenant_context(org.pk):
        return Integration.objects.create(
            organization=org, service=service, kind=kind, name=name or f"{kind} feed", **fields
        )


def make_alert(org, integration, incident, **fields):
    fields.setdefault("summary", "Disk full")
    with rls.tenant_context(org.pk):
        return Alert.objects.create(
            organization=org,
            integration=integration,
            incident=incident,
            action=fields.pop("action", Alert.Action.TRIGGER),
            outcome=fields.pop("outcome", Alert.Outcome.GROUPED),
            dedup_key=fields.pop("dedup_key", "disk"),
            severity=fields.pop("severity", "critical"),
            source=fields.pop("source", "db-1"),
            payload=fields.pop("payload", {"summary": fields["summary"]}),
            **fields,
        )


def curl_request(command: str) -> tuple[str, dict[str, str], dict]:
    """(URL, headers, JSON body) of an example curl command as shown on the page."""
    words = shlex.split(html.unescape(command).replace("\\\n", " "))
    assert words[:4] == ["curl", "-sS", "-X", "POST"]
    headers, body, url = {}, None, words[4]
    rest = iter(words[5:])
    for word in rest:
        if word == "-H":
            name, _, value = next(rest).partition(": ")
            headers[name] = value
        elif word == "-d":
            body = json.loads(next(rest))
    return url, headers, body


def snippets(page: str) -> list[str]:
    return re.findall(r'<pre class="snippet"><code>(.*?)</code></pre>', page, re.S)


# The service list ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_every_member_sees_the_service_list(client_for, people, org, database, role):
    make_integration(org, database, Kind.PAGERDUTY)
    make_integration(org, database, Kind.ALERTMANAGER)
    incident_services.incident_create(
        organization=org,
        actor=None,
        title="Replica lag",
        service=database,
        reporter=people[Role.REPORTER],
    )
    closed = incident_services.incident_create(
        organization=org, actor=None, title="Old", service=database
    )
    incident_services.incident_transition(
        organization=org, actor=None, incident=closed, status="cancelled"
    )
    response = client_for(people[role]).get(services_url(org))
    assert response.status_code == 200
    row = re.search(
        r"<tr>\s*<td><a href=\"[^\"]*/services/database/\">Database</a>.*?</tr>",
        text(response),
        re.S,
    )
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(0), re.S)
    assert "Storage" in cells[1]
    assert "Degraded performance" in cells[2]
    assert cells[3] == "1"  # the cancelled incident is not open
    assert cells[4] == "2"


def test_reporters_count_only_the_incidents_they_reported(client_for, people, org, database):
    incident_services.incident_create(
        organization=org, actor=None, title="Not theirs", service=database
    )
    response = client_for(people[Role.REPORTER]).get(services_url(org))
    assert "Your open incidents" in text(response)
    row = re.search(r"Database</a>.*?</tr>", text(response), re.S).group(0)
    assert re.findall(r"<td>(.*?)</td>", row)[2] == "0"


def test_the_navigation_links_to_the_services(client_for, people, org):
    page = text(client_for(people[Role.RESPONDER]).get(services_url(org)))
    assert re.search(rf'<a href="{services_url(org)}" aria-current="page">Services</a>', page)


# A service's page ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ADMINS)
def test_admins_see_each_integrations_key_url_and_a_working_example(
    client_for, people, org, database, role
):
    integrations = {kind: make_integration(org, database, kind) for kind in Kind}
    client = client_for(people[role])
    response = client.get(services_url(org, "database"))
    assert "no-store" in response["Cache-Control"]
    page = text(response)
    examples = snippets(page)
    for _kind, integration in integrations.items():
        assert integration.key in page
    pagerduty_key = integrations[Kind.PAGERDUTY].key
    assert "http://testserver/v2/enqueue" in page
    assert "http://testserver/v2/change/enqueue" in page
    assert (
        f"http://testserver/integrations/alertmanager/{integrations[Kind.ALERTMANAGER].key}/"
        in page
    )
    assert f"http://testserver/integrations/generic/{integrations[Kind.GENERIC].key}/" in page
    assert "http://testserver/v2/alerts" in page
    # Alertmanager: a receiver for alertmanager.yml that sends the resolutions too.
    receiver = next(html.unescape(e) for e in examples if "webhook_configs:" in e)
    assert (
        f'url: "http://testserver/integrations/alertmanager/{integrations[Kind.ALERTMANAGER].key}/"'
        in receiver
    )
    assert "send_resolved: true" in receiver
    # Every curl example, copied from the page and sent, is accepted.
    curls = [example for example in examples if example.startswith("curl")]
    assert len(curls) == 5  # pagerduty trigger and change, alertmanager, opsgenie, generic
    for command in curls:
        url, headers, body = curl_request(command)
        assert url.startswith("http://testserver/")
        extra = (
            {"HTTP_AUTHORIZATION": headers["Authorization"]} if "Authorization" in headers else {}
        )
        response = client.post(
            url.removeprefix("http://testserver"),
            json.dumps(body),
            content_type=headers["Content-Type"],
            **extra,
        )
        assert response.status_code == 202, (url, response.content)
    trigger = curl_request(next(c for c in curls if "event_action" in c))[2]
    assert trigger["routing_key"] == pagerduty_key
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"]
    assert set(trigger["payload"]) == {"summary", "source", "severity"}
    opsgenie = next(c for c in curls if "GenieKey" in c)
    assert f"Authorization: GenieKey {integrations[Kind.OPSGENIE].key}" in opsgenie
    generic = curl_request(next(c for c in curls if "/integrations/generic/" in c))[2]
    assert set(generic) == {"action", "dedup_key", "summary", "severity", "source", "details"}
    with rls.tenant_context(org.pk):
        opened = Incident.objects.for_org(org).filter(source=Incident.Source.ALERT).count()
        assert opened == 4  # one per kind; the change event opens nothing
        assert ChangeEvent.objects.for_org(org).filter(service=database).count() == 1


@pytest.mark.parametrize("role", NOT_ADMINS)
def test_no_one_but_admins_sees_a_key(client_for, people, org, database, role):
    integrations = [make_integration(org, database, kind) for kind in Kind]
    page = text(client_for(people[role]).get(services_url(org, "database")))
    for integration in integrations:
        assert integration.key not in page
        assert integration.key[:8] not in page
        assert integration.key[-8:] not in page
    assert "/integrations/generic/" not in page
    assert "curl" not in page
    if role == Role.REPORTER:
        assert "Integrations" not in page
    else:
        assert "pagerduty feed" in page
        assert "PagerDuty Events API v2" in page


def test_the_service_page_shows_open_incidents_and_recent_changes(
    client_for, people, org, database
):
    integration = make_integration(org, database, Kind.PAGERDUTY, name="Deploys")
    incident = incident_services.incident_create(
        organization=org, actor=None, title="Replica lag", service=database
    )
    resolved = incident_services.incident_create(
        organization=org, actor=None, title="Yesterday's outage", service=database
    )
    incident_services.incident_transition(
        organization=org, actor=None, incident=resolved, status="resolved", resolution="Fixed"
    )
    with rls.tenant_context(org.pk):
        for n in range(25):
            ChangeEvent.objects.create(
                organization=org,
                integration=integration,
                service=database,
                summary=f"Release {n:02d}",
                source="ci",
                timestamp=f"2024-06-01T12:{n:02d}:00Z",
                payload={},
                links=[
                    {"href": "https://ci.example.com/1", "text": "build"},
                    {"href": "javascript:alert(1)", "text": "evil"},
                ],
            )
    page = text(client_for(people[Role.STAKEHOLDER]).get(services_url(org, "database")))
    assert "The primary PostgreSQL cluster." in page
    assert "Storage" in page
    assert f'href="{incident_url(org, incident)}"' in page
    assert "Yesterday" not in page  # resolved: not open
    shown = re.findall(r"Release (\d\d)", page)
    assert shown == [f"{n:02d}" for n in range(24, 4, -1)]  # the newest 20, newest first
    assert 'href="https://ci.example.com/1"' in page
    assert "javascript:" not in page
    # Reporters follow their own incidents; changes are not theirs to read.
    page = text(client_for(people[Role.REPORTER]).get(services_url(org, "database")))
    assert "Release" not in page
    assert "Replica lag" not in page


def test_the_service_page_escapes_what_senders_wrote(client_for, people, org, database):
    integration = make_integration(org, database, Kind.PAGERDUTY, name="<b>feed</b>")
    with rls.tenant_context(org.pk):
        ChangeEvent.objects.create(
            organization=org,
            integration=integration,
            service=database,
            summary="<script>alert('change')</script>",
            timestamp="2024-06-01T12:00:00Z",
            payload={},
        )
    page = text(client_for(people[Role.ADMIN]).get(services_url(org, "database")))
    assert "<script>alert" not in page
    assert "<b>feed" not in page
    assert "&lt;script&gt;alert(&#x27;change&#x27;)&lt;/script&gt;" in page


# Across organizations -------------------------------------------------------------------------


def test_another_organizations_service_is_not_found(client_for, people, org, other_org):
    incident_services.service_create(
        organization=other_org, actor=None, slug="secret", name="Secret"
    )
    client = client_for(people[Role.OWNER])
    assert client.get(services_url(org, "secret")).status_code == 404
    assert client.get(services_url(org, "no-such-service")).status_code == 404
    assert client.get(services_url(other_org, "secret")).status_code == 404
    assert client.get(services_url(other_org)).status_code == 404
    assert "Secret" not in text(client.get(services_url(org)))


def test_another_organizations_user_sees_none_of_ours(client_for, member, other_org, org, database):
    integration = make_integration(org, database, Kind.GENERIC)
    stranger = member(Role.OWNER, organization=other_org)
    client = client_for(stranger)
    for url in (services_url(org), services_url(org, "database")):
        response = client.get(url)
        assert response.status_code == 404
        assert integration.key.encode() not in response.content


def test_the_pages_need_a_login(client, org, database):
    response = client.get(services_url(org, "database"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# Query counts ---------------------------------------------------------------------------------


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_the_service_list_takes_the_same_queries_for_1_or_20_services(
    client_for, people, org, team
):
    def add(n):
        service = incident_services.service_create(
            organization=org, actor=None, slug=f"s{n}", name=f"S{n}", team=team
        )
        make_integration(org, service, Kind.GENERIC)
        incident_services.incident_create(
            organization=org, actor=None, title=f"I{n}", service=service
        )

    client = client_for(people[Role.RESPONDER])
    add(0)
    one = queries(client, services_url(org))
    for n in range(1, 20):
        add(n)
    assert queries(client, services_url(org)) == one
    assert text(client.get(services_url(org))).count("/services/s") == 20


def test_the_service_page_takes_the_same_queries_for_1_or_20_rows(
    client_for, people, org, database
):
    def add(n):
        integration = make_integration(org, database, list(Kind)[n % 4], name=f"feed {n}")
        incident_services.incident_create(
            organization=org, actor=None, title=f"I{n}", service=database
        )
        with rls.tenant_context(org.pk):
            ChangeEvent.objects.create(
                organization=org,
                integration=integration,
                service=database,
                summary=f"change {n}",
                timestamp="2024-06-01T12:00:00Z",
                payload={},
            )

    client = client_for(people[Role.ADMIN])
    add(0)
    one = queries(client, services_url(org, "database"))
    for n in range(1, 20):
        add(n)
    assert queries(client, services_url(org, "database")) == one


# The incident page's alerts panel -------------------------------------------------------------


@pytest.fixture
def alerted(client, org, database):
    """An incident opened by a generic webhook alert, plus a second alert grouped onto it."""
    integration = make_integration(org, database, Kind.GENERIC, name="Probe")
    url = reverse("generic", kwargs={"key": integration.key})
    for summary in ("Checkout is down", "Checkout is still down"):
        body = {"dedup_key": "checkout", "summary": summary, "severity": "critical"}
        response = client.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 202, response.content
    with rls.tenant_context(org.pk):
        return (
            Incident.objects.for_org(org)
            .select_related("alert_group__integration")
            .get(dedup_key="checkout")
        )


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.RESPONDER, Role.STAKEHOLDER])
def test_the_incident_page_lists_its_alerts(client_for, people, org, alerted, role):
    page = text(client_for(people[role]).get(incident_url(org, alerted)))
    panel = re.search(r'<section class="card" id="alerts".*?</section>', page, re.S).group(0)
    rows = re.findall(r"<tr>\s*<td><time.*?</tr>", panel, re.S)
    assert len(rows) == 2
    assert "Checkout is still down" in rows[0]
    assert "Added to an open incident" in rows[0]
    assert "Checkout is down" in rows[1]
    assert "Opened an incident" in rows[1]
    assert "Trigger" in rows[1]
    assert "critical" in rows[1]
    assert "via Probe" in rows[1]
    assert "&quot;dedup_key&quot;: &quot;checkout&quot;" in rows[1]  # the payload, indented


def test_reporters_never_see_alerts_even_on_their_own_incident(client_for, people, org, database):
    integration = make_integration(org, database, Kind.GENERIC)
    incident = incident_services.incident_create(
        organization=org,
        actor=people[Role.REPORTER],
        reporter=people[Role.REPORTER],
        title="Checkout is slow",
        service=database,
    )
    make_alert(org, integration, incident, summary="p99 latency over 2 s")
    page = text(client_for(people[Role.REPORTER]).get(incident_url(org, incident)))
    assert "Checkout is slow" in page
    assert 'id="alerts"' not in page
    assert "p99 latency" not in page
    page = text(client_for(people[Role.RESPONDER]).get(incident_url(org, incident)))
    assert 'id="alerts"' in page
    assert "p99 latency over 2 s" in page


def test_the_panel_is_shown_only_for_incidents_with_an_alert_group_or_alerts(
    client_for, people, org, database
):
    integration = make_integration(org, database, Kind.PAGERDUTY)
    plain = incident_services.incident_create(organization=org, actor=None, title="Manual")
    wired = incident_services.incident_create(
        organization=org, actor=None, title="Wired", source=Incident.Source.ALERT, dedup_key="k"
    )
    with rls.tenant_context(org.pk):
        groups.groups_open(organization_id=org.pk, opened={(integration.pk, "k"): wired})
    client = client_for(people[Role.RESPONDER])
    assert 'id="alerts"' not in text(client.get(incident_url(org, plain)))
    page = text(client.get(incident_url(org, wired)))
    assert 'id="alerts"' in page
    assert "No alerts received for this incident." in page


def test_the_panel_shows_the_newest_50_and_how_many_there_are(client_for, people, org, alerted):
    integration = alerted.alert_group.integration
    for n in range(53):
        make_alert(org, integration, alerted, summary=f"repeat {n:02d}")
    page = text(client_for(people[Role.RESPONDER]).get(incident_url(org, alerted)))
    assert 'Alerts <span class="muted">(55)</span>' in page
    assert "Showing the newest 50 of 55 alerts." in page
    assert "repeat 52" in page
    assert "repeat 03" in page
    assert "repeat 02" not in page


def test_alert_summaries_and_payloads_are_escaped(client_for, people, org, alerted):
    make_alert(
        org,
        alerted.alert_group.integration,
        alerted,
        summary="<script>alert('summary')</script>",
        source="<img src=x onerror=alert(1)>",
        payload={"note": "</code></pre><script>alert('payload')</script>"},
    )
    page = text(client_for(people[Role.RESPONDER]).get(incident_url(org, alerted)))
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;summary&#x27;)&lt;/script&gt;" in page
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(&#x27;payload&#x27;)" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_alerts_panel_adds_one_query_whatever_the_number_of_alerts(
    client_for, people, org, alerted
):
    client = client_for(people[Role.RESPONDER])
    one = queries(client, incident_url(org, alerted))
    for n in range(30):
        make_alert(org, alerted.alert_group.integration, alerted, summary=f"repeat {n}")
    assert queries(client, incident_url(org, alerted)) == one
    # The panel's whole cost: one query for those who read alerts, none for reporters.
    with rls.tenant_context(org.pk):
        incident = Incident.objects.for_org(org).get(pk=alerted.pk)
        for role, expected in ((Role.RESPONDER, 1), (Role.REPORTER, 0)):
            user = people[role]
            user.has_perm("alerts.view_alert", incident)  # the roles, cached per request
            with CaptureQueriesContext(connection) as captured:
                panel = incident_alerts(SimpleNamespace(user=user), incident)
            assert len(captured) == expected, role
            assert (panel is None) == (role == Role.REPORTER)
        assert panel is None
