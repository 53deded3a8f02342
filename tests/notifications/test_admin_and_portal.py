"""Webhooks and deliveries in the admin, and the incident page's notifications panel."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services as incident_services
from notifications.models import Attempt, Delivery, Webhook
from notifications.services import webhooks as services
from tenancy import rls
from tenancy import services as tenancy_services
from tenancy.models import AuditEvent, Role
from tests.notifications import rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(member):
    return member(Role.ADMIN, username="boss")


@pytest.fixture
def failed(org):
    """A webhook and a failed delivery about an incident, with its attempt."""
    webhook, _ = services.webhook_create(
        organization=org,
        actor=None,
        name="Tickets",
        url="https://tickets.example/hooks",
        events=["incident.created"],
    )
    incident = incident_services.incident_create(organization=org, actor=None, title="Down")
    with rls.tenant_context(org.pk):
        delivery = rows.delivery_save(
            webhook,
            incident=incident,
            status="failed",
            attempts=1,
            last_error="The endpoint answered 404.",
        )
        Attempt.objects.create(
            organization=org,
            delivery=delivery,
            number=1,
            status_code=404,
            error="The endpoint answered 404.",
        )
    return delivery


def admin_url(model, view="changelist", *args):
    return reverse(f"admin:notifications_{model}_{view}", args=args)


def test_a_webhook_added_in_the_admin_shows_its_secret_once(org, client_for, admin_user):
    client = client_for(admin_user)
    response = client.post(
        admin_url("webhook", "add"),
        {
            "organization": org.pk,
            "name": "Tickets",
            "url": "https://tickets.example/hooks",
            "events": ["incident.created", "incident.resolved"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request) if "secret" in str(m)]
    with rls.tenant_context(org.pk):
        webhook = Webhook.objects.for_org(org).get()
        assert AuditEvent.objects.for_org(org).filter(action="webhook.created").exists()
    assert webhook.secret in message
    client.get(admin_url("webhook"))  # the message is shown, once
    page = client.get(admin_url("webhook", "change", webhook.pk))
    assert page.status_code == 200
    assert webhook.secret.encode() not in page.content
    assert webhook.secret[-4:].encode() in page.content


def test_bad_events_are_refused_on_the_form(org, client_for, admin_user):
    response = client_for(admin_user).post(
        admin_url("webhook", "add"),
        {"organization": org.pk, "name": "T", "url": "https://t.example/", "events": ["nope"]},
    )
    assert response.status_code == 200
    assert "events" in response.context["adminform"].form.errors


def test_deliveries_show_their_attempts_and_are_retried_from_the_admin(
    org, client_for, admin_user, failed, django_capture_on_commit_callbacks, settings
):
    settings.BEACON_ALLOW_PRIVATE_OUTBOUND = False  # tickets.example is not reached here
    client = client_for(admin_user)
    assert client.get(admin_url("delivery")).status_code == 200
    page = client.get(admin_url("delivery", "change", failed.pk))
    assert page.status_code == 200
    assert b"The endpoint answered 404." in page.content
    with django_capture_on_commit_callbacks():  # the send itself is not run here
        response = client.post(
            admin_url("delivery"), {"action": "retry", "_selected_action": [failed.pk]}
        )
    assert response.status_code == 302
    with rls.tenant_context(org.pk):
        assert Delivery.objects.for_org(org).get().status == Delivery.Status.PENDING


def test_another_organizations_admin_gets_404(other_org, member, client_for, failed):
    client = client_for(member(Role.ADMIN, organization=other_org))
    for address in (
        admin_url("webhook", "change", failed.webhook_id),
        admin_url("delivery", "change", failed.pk),
    ):
        assert client.get(address).status_code == 404, address
    assert b"Tickets" not in client.get(admin_url("webhook")).content
    assert b"Tickets" not in client.get(admin_url("delivery")).content


def test_the_incident_page_shows_what_was_sent_and_admins_retry(
    org, client_for, admin_user, member, failed, django_capture_on_commit_callbacks
):
    detail = reverse("incidents:detail", args=[org.slug, failed.incident.number])
    page = client_for(admin_user).get(detail)
    assert b"Notifications sent" in page.content
    assert b"HTTP 404" in page.content
    assert b">Retry</button>" in page.content
    responder_page = client_for(member(Role.RESPONDER)).get(detail)
    assert b"HTTP 404" in responder_page.content
    assert b">Retry</button>" not in responder_page.content
    assert b"Notifications sent" not in client_for(member(Role.STAKEHOLDER)).get(detail).content

    retry = reverse("notifications:retry", args=[org.slug, failed.incident.number, failed.pk])
    assert client_for(member(Role.RESPONDER)).post(retry).status_code == 403
    with django_capture_on_commit_callbacks():
        response = client_for(admin_user).post(retry)
    assert response.status_code == 302
    assert response.url.endswith("#notifications")
    with rls.tenant_context(org.pk):
        assert Delivery.objects.for_org(org).get().status == Delivery.Status.PENDING


def test_a_foreign_delivery_cannot_be_retried_through_our_incident(
    org, other_org, client_for, member, failed
):
    ours = incident_services.incident_create(organization=other_org, actor=None, title="Ours")
    client = client_for(member(Role.ADMIN, organization=other_org))
    retry = reverse("notifications:retry", args=[other_org.slug, ours.number, failed.pk])
    assert client.post(retry).status_code == 404


def test_the_panel_takes_the_same_queries_for_1_or_15_deliveries(
    org, client_for, admin_user, failed
):
    detail = reverse("incidents:detail", args=[org.slug, failed.incident.number])
    client = client_for(admin_user)
    with CaptureQueriesContext(connection) as one:
        client.get(detail)
    with rls.tenant_context(org.pk):
        for _ in range(14):
            delivery = rows.delivery_save(
                failed.webhook, incident=failed.incident, event_type="incident.updated"
            )
            Attempt.objects.create(organization=org, delivery=delivery, number=1, status_code=503)
    with CaptureQueriesContext(connection) as many:
        page = client.get(detail)
    assert page.content.count(b"HTTP 503") == 14
    assert len(many) == len(one)


def test_the_retry_action_retries_only_where_the_user_is_an_admin(
    org, other_org, member, client_for, failed, django_capture_on_commit_callbacks
):
    both = member(Role.ADMIN, organization=other_org, username="both")
    tenancy_services.membership_create(organization=org, actor=None, user=both, role=Role.RESPONDER)
    client = client_for(both)
    with django_capture_on_commit_callbacks():
        client.post(admin_url("delivery"), {"action": "retry", "_selected_action": [failed.pk]})
    with rls.tenant_context(org.pk):
        assert Delivery.objects.for_org(org).get().status == Delivery.Status.FAILED
