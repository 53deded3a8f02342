"""Password reset: Django's views, a link by e-mail, the same answer for any address."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tenancy import services
from tenancy.models import AuditEvent, Role
from tests.conftest import log_in

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "a-brand-new-passphrase-42"
LINK = re.compile(r"https?://\S+/accounts/reset/\S+/")


def reset_link(message) -> str:
    (link,) = set(LINK.findall(message.body))
    return urlsplit(link).path


def ask(client, email):
    return client.post(reverse("password_reset"), {"email": email})


def test_the_login_page_links_to_the_reset(client):
    page = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in page
    form = client.get(reverse("password_reset"))
    assert form.status_code == 200
    assert "Reset your password" in form.content.decode()


def test_known_and_unknown_addresses_get_the_same_answer(client, member, mailoutbox):
    member(Role.REPORTER, username="carol")
    known = ask(client, "carol@example.com")
    unknown = ask(client, "nobody@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert known["Location"] == reverse("password_reset_done")
    done = client.get(known["Location"]).content.decode()
    assert "If an account has that address" in done
    assert [m.to for m in mailoutbox] == [["carol@example.com"]]


def test_the_link_sets_a_new_password_once_and_is_audited(client, member, org, mailoutbox):
    carol = member(Role.RESPONDER, username="carol")
    ask(client, "CAROL@example.com")
    message = mailoutbox[-1]
    assert message.subject == "Reset your Beacon password"
    assert message.alternatives
    assert "carol" in message.alternatives[0][0]
    link = reset_link(message)
    assert LINK.search(message.body).group(0).startswith("http://localhost:8000/")
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done["Location"] == reverse("password_reset_complete")
    carol.refresh_from_db()
    assert carol.check_password(NEW_PASSWORD)
    assert log_in(client, "carol", NEW_PASSWORD)
    client.logout()
    again = client.get(link, follow=True).content.decode()
    assert "This link is not valid" in again
    (event,) = AuditEvent.objects.for_org(org).filter(action="auth.password_reset")
    assert event.actor == carol


def test_a_weak_new_password_is_a_field_error(client, member, mailoutbox):
    member(Role.RESPONDER, username="carol")
    ask(client, "carol@example.com")
    form_page = client.get(reset_link(mailoutbox[-1]), follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()


def test_an_account_that_never_had_a_password_can_set_one(client, mailoutbox):
    services.user_create(username="legacy", email="legacy@example.com")
    ask(client, "legacy@example.com")
    assert [m.to for m in mailoutbox] == [["legacy@example.com"]]


def test_inactive_accounts_get_no_mail(client, make_user, mailoutbox):
    make_user("gone", is_active=False)
    response = ask(client, "gone@example.com")
    assert response["Location"] == reverse("password_reset_done")
    assert mailoutbox == []


def test_the_request_hands_the_message_to_a_worker(client, member, mailoutbox, monkeypatch):
    """No request waits for the mail server, so a known address answers as fast as an
    unknown one; the worker's task sends the message the request rendered."""
    from core import tasks

    member(Role.REPORTER, username="carol")
    queued = []
    monkeypatch.setattr(tasks.send_email, "delay", lambda **message: queued.append(message))

    assert ask(client, "carol@example.com").status_code == 302
    assert ask(client, "nobody@example.com").status_code == 302

    assert mailoutbox == []  # nothing sent by the request itself
    (message,) = queued
    assert message["to"] == ["carol@example.com"]
    assert message["subject"] == "Reset your Beacon password"
    tasks.send_email(**message)  # as the worker runs it
    (sent,) = mailoutbox
    assert sent.subject == message["subject"]
    assert LINK.search(sent.body)
    assert sent.alternatives[0][1] == "text/html"
