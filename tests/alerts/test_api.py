"""/api/v1: a service's integrations (admins), an incident's alerts, a service's changes."""

import json

import pytest
from django.urls import reverse

from alerts import services
from alerts.kinds import pagerduty
from alerts.models import Integration
from incidents import services as incident_services
from incidents.models import Incident
from tenancy import rls
from tenancy.models import AuditEvent, Role
from tests.conftest import see

pytestmark = pytest.mark.django_db

ADMINS = [Role.OWNER, Role.ADMIN]
OTHERS = [Role.RESPONDER, Role.REPORTER, Role.STAKEHOLDER]


def url(org, name, **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


def integrations_url(org, service="checkout"):
    return url(org, "service-integration-list", service=service)


def detail_url(org, integration, service=None):
    service = service or integration.service.slug
    return url(org, "service-integration-detail", service=service, integration=integration.pk)


def regenerate_url(org, integration):
    return url(
        org,
        "service-integration-regenerate-key",
        service=integration.service.slug,
        integration=integration.pk,
    )


def enqueue(client, key, dedup_key="disk-full", action="trigger"):
    body = {"routing_key": key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        body["payload"] = {"summary": "Disk full", "source": "db-1", "severity": "critical"}
    return client.post("/v2/enqueue", json.dumps(body), content_type="application/json")


@pytest.fixture
def checkout(org):
    return incident_services.service_create(
        organization=org, actor=None, slug="checkout", name="Checkout"
    )


@pytest.fixture
def foreign(other_org, integration):
    """Another organization's service (slug "checkout" too) and integration."""
    service = incident_services.service_create(
        organization=other_org, actor=None, slug="checkout", name="Secret checkout"
    )
    return integration("pagerduty", organization=other_org, service=service, name="Secret")


# --- integrations: roles --------------------------------------------------------------------


@pytest.mark.parametrize("role", ADMINS)
def test_admins_manage_integrations(api_client_for, member, api_key_for, org, checkout, role):
    for index, principal in enumerate((member(role), api_key_for(role))):
        client = api_client_for(principal)
        created = client.post(
            integrations_url(org),
            {"name": f"Prometheus {index}", "kind": "alertmanager"},
            format="json",
        )
        assert created.status_code == 201, created.content
        body = created.json()
        integration = Integration.objects.for_org(org).get(pk=body["id"])
        assert body == {
            "id": integration.pk,
            "name": f"Prometheus {index}",
            "kind": "alertmanager",
            "service": "checkout",
            "key": integration.key,
            "is_active": True,
            "rate_limit_per_minute": 6000,
            "url": f"http://testserver/integrations/alertmanager/{integration.key}/",
            "created_at": body["created_at"],
        }
        listed = client.get(integrations_url(org))
        assert listed.status_code == 200
        assert integration.key in {row["key"] for row in listed.json()["results"]}
        assert client.get(detail_url(org, integration)).json()["key"] == integration.key

        changed = client.patch(
            detail_url(org, integration),
            {"name": "Renamed", "is_active": False, "rate_limit_per_minute": 60},
            format="json",
        )
        assert changed.status_code == 200, changed.content
        assert (changed.json()["name"], changed.json()["is_active"]) == ("Renamed", False)
        integration.refresh_from_db()
        assert (integration.rate_limit_per_minute, integration.is_active) == (60, False)

        regenerated = client.post(regenerate_url(org, integration))
        assert regenerated.status_code == 200
        assert regenerated.json()["key"] not in (integration.key, "")

        assert client.delete(detail_url(org, integration)).status_code == 204
        assert not Integration.objects.for_org(org).filter(pk=integration.pk).exists()
    actions = set(AuditEvent.objects.for_org(org).values_list("action", flat=True))
    assert {
        "integration.created",
        "integration.updated",
        "integration.key_regenerated",
        "integration.deleted",
    } <= actions


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_are_refused_like_other_admin_resources(
    api_client_for, member, api_key_for, org, checkout, integration, role
):
    mine = integration("pagerduty", service=checkout, name="Datadog")
    for principal in (member(role), api_key_for(role)):
        client = api_client_for(principal)
        answers = [
            client.get(integrations_url(org)),
            client.post(integrations_url(org), {"name": "X", "kind": "generic"}, format="json"),
            client.get(detail_url(org, mine)),
            client.patch(detail_url(org, mine), {"name": "Hijacked"}, format="json"),
            client.post(regenerate_url(org, mine)),
            client.delete(detail_url(org, mine)),
        ]
        assert [a.status_code for a in answers] == [403] * 6
        assert all(mine.key not in a.content.decode() for a in answers)
    old_key = mine.key
    mine.refresh_from_db()
    assert (mine.name, mine.key) == ("Datadog", old_key)
    assert Integration.objects.for_org(org).count() == 1


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("pagerduty", "/v2/enqueue"),
        ("opsgenie", "/v2/alerts"),
        ("alertmanager", "/integrations/alertmanager/{key}/"),
        ("generic", "/integrations/generic/{key}/"),
    ],
)
def test_url_is_the_ingestion_endpoint_of_the_kind(
    api_client_for, member, org, checkout, integration, kind, path
):
    mine = integration(kind, service=checkout)
    body = api_client_for(member(Role.ADMIN)).get(detail_url(org, mine)).json()
    assert body["url"] == "http://testserver" + path.format(key=mine.key)


def test_regenerated_key_replaces_the_old_one_for_senders(
    api_client_for, member, org, checkout, integration, client
):
    mine = integration("pagerduty", service=checkout)
    old = mine.key
    assert enqueue(client, old).status_code == 202
    new = api_client_for(member(Role.OWNER)).post(regenerate_url(org, mine)).json()["key"]
    assert len(new) == 32
    assert enqueue(client, old, "other").status_code == 404
    assert enqueue(client, new, "other").status_code == 202
    event = AuditEvent.objects.for_org(org).get(action="integration.key_regenerated")
    assert old not in json.dumps([event.before, event.after])
    assert new not in json.dumps([event.before, event.after])


def test_deactivated_integration_is_refused(api_client_for, member, org, checkout, integration):
    mine = integration("pagerduty", service=checkout)
    client = api_client_for(member(Role.ADMIN))
    response = client.patch(detail_url(org, mine), {"is_active": False}, format="json")
    assert response.status_code == 200
    assert enqueue(api_client_for(), mine.key).status_code == 404


# --- integrations: tenant boundary and bad input -------------------------------------------


def test_another_organizations_service_and_integration_answer_404(
    api_client_for, member, api_key_for, org, other_org, checkout, foreign
):
    for principal in (member(Role.OWNER), api_key_for(Role.OWNER)):
        client = api_client_for(principal)
        # Their organization in the URL: 404 as for an organization that does not exist.
        assert client.get(integrations_url(other_org)).status_code == 404
        assert client.get(detail_url(other_org, foreign)).status_code == 404
        # Our organization and service, their integration's id.
        for response in (
            client.get(detail_url(org, foreign)),
            client.patch(detail_url(org, foreign), {"name": "Mine now"}, format="json"),
            client.post(regenerate_url(org, foreign)),
            client.delete(detail_url(org, foreign)),
        ):
            assert response.status_code == 404
            assert foreign.key not in response.content.decode()
        # A service slug only they have.
        assert client.get(integrations_url(org, "secret-only")).status_code == 404
        listed = client.get(integrations_url(org)).json()["results"]
        assert listed == []
    key = foreign.key
    see(foreign.organization)
    foreign.refresh_from_db()
    assert (foreign.name, foreign.key) == ("Secret", key)


def test_integration_of_another_service_is_not_reachable_through_this_one(
    api_client_for, member, org, checkout, integration
):
    elsewhere = integration("pagerduty")  # on a service of its own
    client = api_client_for(member(Role.ADMIN))
    assert client.get(detail_url(org, elsewhere, service="checkout")).status_code == 404
    for value in ("abc", "1" * 30, "-1"):
        path = integrations_url(org) + f"{value}/"
        assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "X", "kind": "nagios"}, {"kind"}),
        ({"name": "X", "kind": "generic", "rate_limit_per_minute": 0}, {"rate_limit_per_minute"}),
        ({"name": "X", "kind": "generic", "rate_limit_per_minute": -5}, {"rate_limit_per_minute"}),
        (
            {"name": "X", "kind": "generic", "rate_limit_per_minute": "many"},
            {"rate_limit_per_minute"},
        ),
        ({"name": "x" * 5000, "kind": "generic"}, {"name"}),
        ({"name": "evil\x00name", "kind": "generic"}, {"name"}),
        ({"name": "", "kind": ""}, {"name", "kind"}),
        ({}, {"name", "kind"}),
    ],
)
def test_bad_input_answers_400_with_field_errors(
    api_client_for, member, org, checkout, body, fields
):
    response = api_client_for(member(Role.ADMIN)).post(integrations_url(org), body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert not Integration.objects.for_org(org).exists()


def test_bad_updates_and_duplicate_names(api_client_for, member, org, checkout, integration):
    first = integration("pagerduty", service=checkout, name="Datadog")
    second = integration("generic", service=checkout, name="Uptime")
    client = api_client_for(member(Role.ADMIN))
    for body, field in [
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"name": "n\x00"}, "name"),
        ({"name": "y" * 101}, "name"),
        ({"is_active": "perhaps"}, "is_active"),
    ]:
        response = client.patch(detail_url(org, second), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()
    taken = client.patch(detail_url(org, second), {"name": "Datadog"}, format="json")
    assert taken.status_code == 409
    assert "name" in taken.json()
    again = client.post(integrations_url(org), {"name": "Datadog", "kind": "generic"})
    assert again.status_code == 409
    second.refresh_from_db()
    assert (second.name, first.name) == ("Uptime", "Datadog")


def test_kind_cannot_change(api_client_for, member, org, checkout, integration):
    mine = integration("pagerduty", service=checkout)
    response = api_client_for(member(Role.ADMIN)).patch(
        detail_url(org, mine), {"kind": "generic"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["kind"] == "pagerduty"


# --- an incident's alerts -------------------------------------------------------------------


def _trigger(integration, dedup_key, count=1):
    with rls.tenant_context(integration.organization_id):
        for index in range(count):
            _, event = pagerduty.parse_event(
                {
                    "routing_key": integration.key,
                    "event_action": "trigger",
                    "dedup_key": dedup_key,
                    "payload": {
                        "summary": f"Disk full ({index})",
                        "source": "db-1",
                        "severity": "critical",
                        "custom_details": {"free": f"{index} MB"},
                    },
                }
            )
            [result] = services.ingest(integration, [event])
        return result.incident


def alerts_url(org, incident):
    return url(org, "incident-alert-list", number=incident.number)


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.RESPONDER, Role.STAKEHOLDER])
def test_alerts_of_an_incident(api_client_for, member, api_key_for, org, integration, role):
    datadog = integration("pagerduty", name="Datadog")
    incident = _trigger(datadog, "disk-full", count=2)
    _trigger(datadog, "another-problem")
    for principal in (member(role), api_key_for(role)):
        response = api_client_for(principal).get(alerts_url(org, incident))
        assert response.status_code == 200
        results = response.json()["results"]
        assert [row["summary"] for row in results] == ["Disk full (1)", "Disk full (0)"]
        assert results[1] == {
            "id": results[1]["id"],
            "received_at": results[1]["received_at"],
            "action": "trigger",
            "outcome": "opened",
            "dedup_key": "disk-full",
            "summary": "Disk full (0)",
            "severity": "critical",
            "source": "db-1",
            "integration": "Datadog",
            "payload": {
                "routing_key": datadog.key,
                "event_action": "trigger",
                "dedup_key": "disk-full",
                "payload": {
                    "summary": "Disk full (0)",
                    "source": "db-1",
                    "severity": "critical",
                    "custom_details": {"free": "0 MB"},
                },
            },
        }
        assert results[0]["outcome"] == "grouped"


def test_reporters_get_404_even_for_their_own_incident(
    api_client_for, member, api_key_for, org, integration
):
    incident = _trigger(integration("pagerduty"), "disk-full")
    reporter = member(Role.REPORTER)
    own = incident_services.incident_create(
        organization=org, actor=reporter, title="My laptop", reporter=reporter
    )
    for principal in (reporter, api_key_for(Role.REPORTER)):
        client = api_client_for(principal)
        assert client.get(alerts_url(org, incident)).status_code == 404
        assert client.get(alerts_url(org, own)).status_code == 404


def test_alerts_of_another_organizations_incident_answer_404(
    api_client_for, member, org, other_org, integration
):
    theirs = _trigger(integration("pagerduty", organization=other_org), "secret-disk")
    client = api_client_for(member(Role.OWNER))
    assert client.get(alerts_url(other_org, theirs)).status_code == 404
    mine = Incident.objects.for_org(org).filter(number=theirs.number)
    assert not mine.exists()
    response = client.get(alerts_url(org, theirs))
    assert response.status_code == 404
    assert b"secret-disk" not in response.content
    assert client.get(url(org, "incident-alert-list", number="abc")).status_code == 404


@pytest.mark.parametrize("page_size", [1, 50])
def test_alert_list_query_count_is_constant(
    api_client_for, member, org, integration, page_size, django_assert_max_num_queries
):
    incident = _trigger(integration("pagerduty"), "noisy", count=60)
    client = api_client_for(member(Role.RESPONDER))
    with django_assert_max_num_queries(10):
        response = client.get(alerts_url(org, incident), {"page_size": page_size})
    body = response.json()
    assert len(body["results"]) == page_size
    assert body["next"]
    following = client.get(body["next"]).json()["results"]
    assert following[0]["id"] < body["results"][-1]["id"]


# --- a service's change events --------------------------------------------------------------


def _change(integration, summary):
    with rls.tenant_context(integration.organization_id):
        _, fields = pagerduty.parse_change(
            {
                "routing_key": integration.key,
                "payload": {
                    "summary": summary,
                    "source": "github-actions",
                    "timestamp": "2026-11-28T09:40:00Z",
                    "custom_details": {"version": "2026.11.3"},
                },
                "links": [{"href": "https://example.com/r/1", "text": "Release"}],
            }
        )
        return services.record_change(integration, **fields)


def test_changes_of_a_service(api_client_for, member, org, other_org, checkout, integration):
    deploys = integration("pagerduty", service=checkout, name="Deploys")
    _change(deploys, "Deploy checkout 2026.11.3")
    theirs = incident_services.service_create(
        organization=other_org, actor=None, slug="checkout", name="Secret"
    )
    _change(integration("pagerduty", organization=other_org, service=theirs), "Secret deploy")
    changes = url(org, "service-change-list", service="checkout")
    response = api_client_for(member(Role.STAKEHOLDER)).get(changes)
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["summary"] == "Deploy checkout 2026.11.3"
    assert row["integration"] == "Deploys"
    assert row["custom_details"] == {"version": "2026.11.3"}
    assert row["links"] == [{"href": "https://example.com/r/1", "text": "Release"}]
    assert row["timestamp"] == "2026-11-28T09:40:00Z"
    owner = api_client_for(member(Role.OWNER))
    assert owner.get(url(other_org, "service-change-list", service="checkout")).status_code == 404
    assert owner.get(url(org, "service-change-list", service="nope")).status_code == 404
    assert api_client_for(member(Role.REPORTER)).get(changes).status_code == 403


@pytest.mark.parametrize("page_size", [1, 50])
def test_integration_and_change_lists_query_count_is_constant(
    api_client_for, member, org, checkout, integration, page_size, django_assert_max_num_queries
):
    deploys = integration("pagerduty", service=checkout, name="Deploys")
    for index in range(55):
        integration("generic", service=checkout, name=f"Hook {index}")
        _change(deploys, f"Deploy {index}")
    client = api_client_for(member(Role.ADMIN))
    for path in (integrations_url(org), url(org, "service-change-list", service="checkout")):
        with django_assert_max_num_queries(10):
            response = client.get(path, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
