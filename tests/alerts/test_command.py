"""manage.py create_integration, and the demo seed's integrations and alerts."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from alerts.models import Alert, ChangeEvent, Integration
from incidents import services as incident_services
from incidents.models import Incident, Service
from incidents.states import Status
from tenancy.models import AuditEvent

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_creates_the_service_and_a_working_pagerduty_integration(org, client):
    out, _ = run("create_integration", org.slug, "--service", "billing-api", "--kind", "pagerduty")
    key = out.strip().splitlines()[-1]
    integration = Integration.objects.for_org(org).get()
    assert key == integration.key
    assert (integration.kind, integration.name) == ("pagerduty", "PagerDuty Events API v2")
    assert integration.service.slug == "billing-api"
    assert Service.objects.for_org(org).get(slug="billing-api").name == "Billing api"
    assert "/v2/enqueue" in out
    assert AuditEvent.objects.for_org(org).filter(action="integration.created").exists()

    body = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "billing-5xx",
        "payload": {"summary": "Billing 5xx", "source": "billing-1", "severity": "error"},
    }
    response = client.post("/v2/enqueue", json.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content
    assert response.json()["dedup_key"] == "billing-5xx"
    incident = Incident.objects.for_org(org).get(dedup_key="billing-5xx")
    assert incident.service.slug == "billing-api"


def test_uses_an_existing_service_and_the_given_name(org):
    service = incident_services.service_create(
        organization=org, actor=None, slug="checkout", name="Checkout API"
    )
    out, _ = run(
        "create_integration",
        org.slug,
        "--service",
        "checkout",
        "--kind",
        "alertmanager",
        "--name",
        "Prometheus",
    )
    integration = Integration.objects.for_org(org).get()
    assert (integration.service, integration.name) == (service, "Prometheus")
    assert f"/integrations/alertmanager/{integration.key}/" in out
    assert out.strip().splitlines()[-1] == integration.key
    assert Service.objects.for_org(org).count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "--service", "x", "--kind", "pagerduty"], "No organization 'nowhere'"),
        (["acme", "--service", "x", "--kind", "nagios"], "Unknown kind 'nagios'"),
        (["acme", "--service", "Bad Slug!", "--kind", "generic"], "not a service slug"),
        (["acme", "--service", "s" * 51, "--kind", "generic"], "at most 50"),
        (["acme", "--service", "x", "--kind", "generic", "--name", "n" * 101], "--name"),
        (["acme", "--service", "x", "--kind", "generic", "--name", "a\x00b"], "--name"),
    ],
)
def test_bad_arguments_are_clear_errors(org, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_integration", *args)
    assert not Integration.objects.unscoped().exists()
    assert not Service.objects.unscoped().exists()


def test_a_duplicate_name_is_an_error(org):
    run("create_integration", org.slug, "--service", "x", "--kind", "generic", "--name", "Hook")
    with pytest.raises(CommandError, match="named 'Hook' already"):
        run(
            "create_integration", org.slug, "--service", "x", "--kind", "opsgenie", "--name", "Hook"
        )
    assert Integration.objects.for_org(org).count() == 1


def test_seed_demo_feeds_alerts_through_the_integrations():
    out, _ = run("seed_demo")
    acme = Integration.objects.unscoped().filter(organization__slug="acme")
    assert set(acme.values_list("kind", flat=True)) == {
        "alertmanager",
        "pagerduty",
        "opsgenie",
        "generic",
    }
    for integration in acme:
        assert integration.key in out  # the summary tells how to send to each
    alerts = Alert.objects.unscoped().filter(organization__slug="acme")
    outcomes = set(alerts.values_list("outcome", flat=True))
    assert {"opened", "grouped", "acknowledged", "resolved", "dropped"} <= outcomes
    # Repeated PagerDuty triggers grouped on one incident.
    latency = alerts.filter(dedup_key="payments-latency-p99")
    assert latency.count() == 3
    assert latency.values("incident").distinct().count() == 1
    # A firing Alertmanager group has an open incident; a resolved one a resolved incident.
    opened = Incident.objects.unscoped().filter(
        organization__slug="acme", source=Incident.Source.ALERT
    )
    assert opened.filter(status=Status.NEW, dedup_key__startswith="am-").exists()
    assert opened.filter(status=Status.RESOLVED, dedup_key__startswith="am-").exists()
    assert opened.filter(status=Status.ACKNOWLEDGED).exists()
    assert alerts.filter(outcome="dropped", incident__isnull=True).exists()
    assert ChangeEvent.objects.unscoped().filter(organization__slug="acme").count() >= 2
    assert Alert.objects.unscoped().filter(organization__slug="globex").exists()

    counts = (Integration.objects.unscoped().count(), Alert.objects.unscoped().count())
    again, _ = run("seed_demo")
    assert "exists already" in again
    assert (Integration.objects.unscoped().count(), Alert.objects.unscoped().count()) == counts


def test_the_alerts_seed_itself_runs_once(org):
    from alerts import demo

    incident_services.service_create(organization=org, actor=None, slug="checkout-api", name="C")
    org.slug = "acme"  # the demo organization's data, in the test organization
    first, second = io.StringIO(), io.StringIO()
    demo.seed(organization=org, users={}, stdout=first)
    count = Integration.objects.for_org(org).count()
    demo.seed(organization=org, users={}, stdout=second)
    assert count == 2  # the integrations of checkout-api, the only demo service here
    assert "2 integrations" in first.getvalue()
    assert Integration.objects.for_org(org).count() == count
    assert "exist already" in second.getvalue()
