"""The admin of integrations, alerts and change events: scoped to the admin's organizations."""

import pytest
from django.urls import reverse

from alerts import services
from alerts.kinds import pagerduty
from alerts.models import Alert, ChangeEvent, Integration
from incidents import services as incident_services
from tenancy import rls
from tenancy.models import AuditEvent, Role
from tests.conftest import see

pytestmark = pytest.mark.django_db


def admin_url(obj, view="change"):
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def traffic(integration, dedup_key="disk-full"):
    """A trigger and a change event through the integration; returns (alert, change)."""
    with rls.tenant_context(integration.organization_id):
        _, event = pagerduty.parse_event(
            {
                "routing_key": integration.key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": f"{integration.name} disk full",
                    "source": "db-1",
                    "severity": "critical",
                    "custom_details": {"mount": "/var/lib/postgresql"},
                },
            }
        )
        [result] = services.ingest(integration, [event])
        _, fields = pagerduty.parse_change(
            {
                "routing_key": integration.key,
                "payload": {"summary": f"{integration.name} deploy", "source": "ci"},
            }
        )
        return result.alert, services.record_change(integration, **fields)


@pytest.fixture
def ours(org, integration):
    service = incident_services.service_create(
        organization=org, actor=None, slug="checkout", name="Checkout"
    )
    mine = integration("pagerduty", service=service, name="Datadog")
    alert, change = traffic(mine)
    return {"integration": mine, "alert": alert, "change": change, "service": service}


@pytest.fixture
def theirs(other_org, integration):
    service = incident_services.service_create(
        organization=other_org, actor=None, slug="secret-svc", name="Secret service"
    )
    secret = integration("pagerduty", organization=other_org, service=service, name="Secret")
    alert, change = traffic(secret, "secret-dedup")
    return {"integration": secret, "alert": alert, "change": change, "service": service}


def test_lists_show_only_the_admins_organization(client_for, member, ours, theirs):
    client = client_for(member(Role.ADMIN))
    page = client.get(changelist(Integration)).content.decode()
    assert "Datadog" in page
    assert ours["integration"].masked_key in page
    assert ours["integration"].key not in page  # the list shows keys masked
    assert "Secret" not in page
    for model, needle in ((Alert, "Datadog disk full"), (ChangeEvent, "Datadog deploy")):
        page = client.get(changelist(model)).content.decode()
        assert needle in page
        assert "Secret" not in page
        assert "secret-dedup" not in page


def test_another_organizations_objects_answer_404(client_for, member, ours, theirs):
    client = client_for(member(Role.OWNER))
    for obj in (theirs["integration"], theirs["alert"], theirs["change"]):
        for view in ("change", "delete", "history"):
            response = client.get(admin_url(obj, view))
            assert response.status_code == 404, (obj, view)
            assert theirs["integration"].key not in response.content.decode()


def test_change_page_shows_the_full_key_and_the_endpoint(client_for, member, org, ours):
    mine = ours["integration"]
    page = client_for(member(Role.ADMIN)).get(admin_url(mine)).content.decode()
    assert mine.key in page
    assert "POST http://testserver/v2/enqueue" in page
    assert "routing_key" in page


def test_alertmanager_endpoint_carries_the_key(client_for, member, ours, integration):
    am = integration("alertmanager", service=ours["service"], name="Prometheus")
    page = client_for(member(Role.ADMIN)).get(admin_url(am)).content.decode()
    assert f"http://testserver/integrations/alertmanager/{am.key}/" in page


def test_admin_creates_an_integration(client_for, member, org, ours, theirs):
    admin_user = member(Role.ADMIN)
    client = client_for(admin_user)
    add = reverse("admin:alerts_integration_add")
    form = client.get(add).content.decode()
    assert "Checkout" in form
    assert "Secret service" not in form  # service choices: the admin's organizations only
    data = {
        "organization": org.pk,
        "service": ours["service"].pk,
        "kind": "alertmanager",
        "name": "Prometheus",
        "is_active": "on",
        "rate_limit_per_minute": 600,
    }
    response = client.post(add, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Integration.objects.for_org(org).get(name="Prometheus")
    assert (created.kind, created.rate_limit_per_minute, len(created.key)) == (
        "alertmanager",
        600,
        32,
    )
    event = AuditEvent.objects.for_org(org).get(action="integration.created")
    assert event.actor == admin_user
    # Another organization's service is not a choice.
    planted = client.post(add, {**data, "name": "Planted", "service": theirs["service"].pk})
    assert planted.status_code == 200
    assert "service" in planted.context["adminform"].form.errors
    assert not Integration.objects.unscoped().filter(name="Planted").exists()
    duplicate = client.post(add, data)
    assert duplicate.status_code == 200
    assert Integration.objects.for_org(org).filter(name="Prometheus").count() == 1


def test_admin_changes_an_integration_through_the_service(client_for, member, org, ours):
    mine = ours["integration"]
    client = client_for(member(Role.ADMIN))
    response = client.post(
        admin_url(mine), {"name": "Datadog EU", "rate_limit_per_minute": 120}
    )  # is_active unticked
    assert response.status_code == 302, response.context["adminform"].form.errors
    mine.refresh_from_db()
    assert (mine.name, mine.is_active, mine.rate_limit_per_minute) == ("Datadog EU", False, 120)
    event = AuditEvent.objects.for_org(org).get(action="integration.updated")
    assert event.after == {"name": "Datadog EU", "is_active": False, "rate_limit_per_minute": 120}


def test_regenerate_key_action(client_for, member, org, ours, theirs):
    mine, secret = ours["integration"], theirs["integration"]
    old, their_old = mine.key, secret.key
    response = client_for(member(Role.ADMIN)).post(
        changelist(Integration),
        {"action": "regenerate_key", "_selected_action": [mine.pk, secret.pk]},
    )
    assert response.status_code == 302
    see(org, secret.organization)
    mine.refresh_from_db()
    secret.refresh_from_db()
    assert mine.key != old
    assert len(mine.key) == 32
    assert secret.key == their_old  # not in the admin's queryset: untouched
    event = AuditEvent.objects.for_org(org).get(action="integration.key_regenerated")
    assert old not in str(event.after)
    assert mine.key not in str(event.after)
    assert not AuditEvent.objects.unscoped().filter(
        organization=secret.organization, action="integration.key_regenerated"
    )


def test_alerts_and_changes_are_read_only(client_for, member, ours):
    client = client_for(member(Role.OWNER))
    page = client.get(admin_url(ours["alert"])).content.decode()
    assert "&quot;mount&quot;: &quot;/var/lib/postgresql&quot;" in page  # the payload, pretty
    assert "<pre" in page
    assert 'name="summary"' not in page  # no editable field
    assert client.get(reverse("admin:alerts_alert_add")).status_code == 403
    assert client.get(reverse("admin:alerts_changeevent_add")).status_code == 403
    assert client.post(admin_url(ours["alert"], "delete"), {"post": "yes"}).status_code == 403
    assert Alert.objects.for_org(ours["alert"].organization).count() == 1
    filtered = client.get(changelist(Alert), {"outcome__exact": "dropped"}).content.decode()
    assert "Datadog disk full" not in filtered
    assert client.get(admin_url(ours["change"])).status_code == 200


def test_responders_cannot_use_the_integration_admin(client_for, member, ours):
    client = client_for(member(Role.RESPONDER))
    response = client.get(admin_url(ours["integration"]))
    assert response.status_code == 302  # to the admin login
    assert ours["integration"].key not in response.content.decode()


def test_an_integration_gets_a_service_of_its_own_organization(
    client_for, operator, org, ours, theirs
):
    client = client_for(operator)
    add = reverse("admin:alerts_integration_add")
    data = {
        "organization": org.pk,
        "service": theirs["service"].pk,
        "kind": "generic",
        "name": "Planted",
        "is_active": "on",
        "rate_limit_per_minute": 600,
    }
    planted = client.post(add, data)
    assert planted.status_code == 200
    assert planted.context["adminform"].form.errors["service"] == ["Choose one of Acme’s services."]
    see(org, theirs["service"].organization)
    assert not Integration.objects.unscoped().filter(name="Planted").exists()
    response = client.post(add, {**data, "service": ours["service"].pk})
    assert response.status_code == 302
    assert Integration.objects.for_org(org).get(name="Planted").service == ours["service"]
