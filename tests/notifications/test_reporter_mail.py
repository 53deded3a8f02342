"""The reporter's e-mails through the outbox: someone is on it, each public update, and
the resolution with the link to confirm or reopen; once each, never for what they did
themselves, tried again when the mail server fails."""

from __future__ import annotations

import re

import pytest

from events.models import Event
from incidents import services as incident_services
from incidents.states import Status
from notifications.models import Delivery
from notifications.services import deliveries, reporters
from tenancy import rls
from tenancy import services as tenancy_services
from tenancy.models import Membership, Role
from tests.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def reporter(member):
    return member(Role.REPORTER, username="rita")


@pytest.fixture
def responder(member):
    return member(Role.RESPONDER, username="rob")


@pytest.fixture
def reported(org, reporter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return incident_services.incident_create(
            organization=org, actor=reporter, title="VPN drops every hour", reporter=reporter
        )


def move(org, actor, incident, status, capture, **fields):
    with capture(execute=True):
        return incident_services.incident_transition(
            organization=org, actor=actor, incident=incident, status=status, **fields
        )


def emails(org) -> list[Delivery]:
    with rls.tenant_context(org.pk):
        return list(Delivery.objects.for_org(org).filter(channel="email").order_by("pk"))


def test_the_reporter_hears_it_is_on_it_each_update_and_the_resolution(
    org, client, reporter, responder, reported, mailoutbox, django_capture_on_commit_callbacks
):
    assert mailoutbox == [], "nothing for opening it: they did"
    capture = django_capture_on_commit_callbacks
    move(org, responder, reported, Status.ACKNOWLEDGED, capture, note="Looking at the tunnel.")
    with capture(execute=True):
        incident_services.incident_post_update(
            organization=org, actor=responder, incident=reported, body="A fix is rolling out."
        )
    with capture(execute=True):
        incident_services.incident_comment(
            organization=org, actor=responder, incident=reported, body="internal: blame dns"
        )
    move(org, responder, reported, Status.IN_PROGRESS, capture)
    move(org, responder, reported, Status.RESOLVED, capture, resolution="Rekeyed the tunnel.")

    assert [message.to for message in mailoutbox] == [[reporter.email]] * 3
    on_it, update, resolved = mailoutbox
    assert "is being worked on" in on_it.subject
    assert "Looking at the tunnel." in on_it.body
    assert "A fix is rolling out." in update.body
    assert all("blame dns" not in message.body for message in mailoutbox)
    assert "is it fixed for you?" in resolved.subject
    [link] = re.findall(r"http://\S+/confirm/\S+", resolved.body)
    assert link in resolved.alternatives[0][0]
    page = client.get(link.removeprefix("http://localhost:8000"))
    assert page.status_code == 200
    assert b"VPN drops every hour" in page.content
    assert [d.status for d in emails(org)] == ["delivered"] * 3
    assert all(message.extra_headers["Message-ID"] for message in mailoutbox)


def test_nothing_for_what_the_reporter_did_themselves_or_twice(
    org, reporter, responder, reported, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_post_update(
            organization=org, actor=reporter, incident=reported, body="It is back now."
        )
    assert mailoutbox == []
    move(org, responder, reported, Status.ACKNOWLEDGED, django_capture_on_commit_callbacks)
    with rls.tenant_context(org.pk):
        event = Event.objects.for_org(org).filter(type="incident.status_changed").get()
    with django_capture_on_commit_callbacks(execute=True), rls.tenant_context(org.pk):
        reporters.reporter_mail(event)  # the event handled again
    assert len(mailoutbox) == 1
    assert len(emails(org)) == 1


def test_a_reporter_who_left_or_has_no_address_gets_nothing(
    org, reporter, responder, reported, mailoutbox, django_capture_on_commit_callbacks
):
    with rls.tenant_context(org.pk):
        membership = Membership.objects.for_org(org).get(user=reporter)
    tenancy_services.membership_remove(organization=org, actor=None, membership=membership)
    move(org, responder, reported, Status.ACKNOWLEDGED, django_capture_on_commit_callbacks)
    assert mailoutbox == []
    assert emails(org) == []


def test_a_mail_server_that_does_not_answer_is_tried_again(
    org, settings, responder, reported, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    move(org, responder, reported, Status.ACKNOWLEDGED, django_capture_on_commit_callbacks)
    [delivery] = emails(org)
    assert delivery.status == Delivery.Status.PENDING
    assert "The mail server failed" in delivery.last_error
    assert delivery.next_attempt_at is not None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with rls.tenant_context(org.pk):
        Delivery.objects.for_org(org).update(next_attempt_at=delivery.created_at)
    deliveries.delivery_send(organization_id=org.pk, delivery_id=delivery.pk)
    [message] = mailoutbox
    assert "is being worked on" in message.subject
    assert [a.error != "" for a in emails(org)[0].attempt_log.all()] == [True, False]
