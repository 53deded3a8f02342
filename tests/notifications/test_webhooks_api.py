"""Webhooks and deliveries in the API: admins manage webhooks (the secret shown once),
responders read deliveries, nobody crosses organizations."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services as incident_services
from notifications.models import Attempt, Delivery, Webhook
from notifications.services import webhooks as services
from tenancy import rls
from tenancy.models import AuditEvent, Role
from tests.notifications import rows

pytestmark = pytest.mark.django_db


def url(org, name="webhook-list", **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


@pytest.fixture
def admin(api_client_for, member):
    return api_client_for(member(Role.ADMIN))


BODY = {"name": "Tickets", "url": "https://tickets.example/hooks", "events": ["incident.created"]}


def test_created_with_its_secret_shown_once(org, admin):
    response = admin.post(url(org), BODY, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    shown = admin.get(url(org, "webhook-detail", webhook=created["id"])).json()
    assert shown["secret"] != created["secret"]
    assert created["secret"] not in str(admin.get(url(org)).json())
    assert shown["secret"].endswith(created["secret"][-4:])
    with rls.tenant_context(org.pk):
        stored = Webhook.objects.for_org(org).get()
        assert stored.secret == created["secret"]
        assert AuditEvent.objects.for_org(org).filter(action="webhook.created").exists()
        assert created["secret"] not in str(
            AuditEvent.objects.for_org(org).values_list("after", flat=True)
        )


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_a_day(org, admin):
    created = admin.post(url(org), BODY, format="json").json()
    rotated = admin.post(url(org, "webhook-rotate-secret", webhook=created["id"])).json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret_until"] is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "ftp://tickets.example/"}, "url"),
        ({"url": "https://user:pw@tickets.example/"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"events": []}, "events"),
        ({"events": ["incident.comment_added"]}, "events"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_a_field_error_and_stores_nothing(org, admin, change, field):
    response = admin.post(url(org), {**BODY, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    with rls.tenant_context(org.pk):
        assert not Webhook.objects.for_org(org).exists()


def test_a_duplicate_name_is_a_conflict(org, admin):
    admin.post(url(org), BODY, format="json")
    assert admin.post(url(org), BODY, format="json").status_code == 409


def test_changed_and_turned_on_again(org, admin):
    created = admin.post(url(org), BODY, format="json").json()
    address = url(org, "webhook-detail", webhook=created["id"])
    with rls.tenant_context(org.pk):
        Webhook.objects.for_org(org).update(is_active=False, disabled_reason="410 Gone")
    response = admin.patch(
        address, {"is_active": True, "events": ["alert.received"]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["disabled_reason"] == ""
    assert response.json()["events"] == ["alert.received"]
    with rls.tenant_context(org.pk):
        [audited] = AuditEvent.objects.for_org(org).filter(action="webhook.updated")
    assert audited.before["events"] == ["incident.created"]
    assert audited.after["events"] == ["alert.received"]
    assert admin.delete(address).status_code == 204


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.STAKEHOLDER, Role.REPORTER])
def test_only_admins_manage_webhooks(org, member, api_client_for, role):
    client = api_client_for(member(role))
    assert client.post(url(org), BODY, format="json").status_code == 403
    assert client.get(url(org)).status_code == 403


def test_responders_read_deliveries_with_their_attempts(org, member, api_client_for, admin):
    services.webhook_create(organization=org, actor=None, **BODY)
    incident = incident_services.incident_create(organization=org, actor=None, title="Down")
    with rls.tenant_context(org.pk):
        webhook = Webhook.objects.for_org(org).get()
        rows.delivery_save(webhook, incident=incident, status="failed")
    client = api_client_for(member(Role.RESPONDER))
    [row] = client.get(url(org, "delivery-list"), {"incident": incident.number}).json()["results"]
    assert (row["incident"], row["status"], row["attempts"]) == (incident.number, "failed", [])
    assert client.get(url(org, "delivery-list"), {"incident": 999}).json()["results"] == []
    retried = client.post(url(org, "delivery-retry", delivery=row["id"]))
    assert retried.status_code == 403, "admins retry"
    assert (
        api_client_for(member(Role.STAKEHOLDER)).get(url(org, "delivery-list")).status_code == 403
    )


def test_another_organization_gets_404_and_sees_nothing(org, other_org, member, api_client_for):
    theirs, _ = services.webhook_create(organization=other_org, actor=None, **BODY)
    client = api_client_for(member(Role.ADMIN))
    assert client.get(url(org)).json()["results"] == []
    for name in ("webhook-detail", "webhook-rotate-secret"):
        address = url(org, name, webhook=theirs.pk)
        assert client.get(address).status_code in (404, 405)
        assert client.post(address).status_code in (404, 405)
    assert (
        client.patch(url(org, "webhook-detail", webhook=theirs.pk), {"name": "x"}).status_code
        == 404
    )
    assert client.get(url(other_org)).status_code == 404


def test_the_list_takes_the_same_queries_for_1_or_20_deliveries(
    org, member, api_client_for, django_assert_max_num_queries
):
    webhook, _ = services.webhook_create(organization=org, actor=None, **BODY)
    client = api_client_for(member(Role.ADMIN))

    incident = incident_services.incident_create(organization=org, actor=None, title="Down")

    def add(count):
        """Deliveries about the incident, with an attempt each."""
        with rls.tenant_context(org.pk):
            made = Delivery.objects.bulk_create(
                rows.delivery(webhook, incident=incident) for _ in range(count)
            )
            Attempt.objects.bulk_create(
                Attempt(organization=org, delivery=delivery, number=1, status_code=200)
                for delivery in made
            )

    add(1)
    with CaptureQueriesContext(connection) as one:
        client.get(url(org, "delivery-list"))
    add(19)
    with django_assert_max_num_queries(len(one)):
        assert len(client.get(url(org, "delivery-list")).json()["results"]) == 20


@pytest.mark.parametrize("value", ["99999999999999999999", "1.9", "x", "0"])
def test_a_bad_identifier_in_a_filter_is_a_400(org, member, api_client_for, value):
    client = api_client_for(member(Role.ADMIN))
    for name in ("webhook", "incident"):
        response = client.get(url(org, "delivery-list"), {name: value})
        assert response.status_code == 400, (name, value, response.content)
        assert name in response.json()
