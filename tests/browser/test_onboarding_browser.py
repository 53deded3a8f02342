"""Onboarding in a real browser: an admin invites, the invitee follows the e-mailed link,
chooses a password and lands in the organization; a forgotten password is reset."""

from __future__ import annotations

import re

import pytest

from tenancy import services
from tenancy.models import Role
from tests.browser.test_portal_browser import log_in
from tests.conftest import PASSWORD
from tests.tenancy.invitations import invitation_link

pytestmark = pytest.mark.browser
NEW_PASSWORD = "ivys-own-passphrase-2026"


@pytest.fixture
def context_for(open_page, live_server, settings):
    """context_for() -> a fresh page: its own cookies, as a second person's browser."""
    settings.BEACON_URL = live_server.url  # the links in the e-mails lead here
    return open_page


@pytest.fixture
def acme(make_org, make_user):
    acme = make_org("acme", "Acme")
    dave = make_user("dave", first_name="Dave", last_name="Kim")
    services.membership_create(organization=acme, actor=None, user=dave, role=Role.ADMIN)
    return acme


def test_an_admin_invites_and_the_invitee_joins(context_for, acme, mailoutbox):
    admin = context_for()
    log_in(admin, "dave", PASSWORD)
    admin.wait_for_url("**/o/acme/")
    admin.get_by_role("navigation", name="Organization").get_by_role("link", name="Members").click()
    admin.wait_for_url("**/o/acme/members/")
    invite = admin.get_by_role("region", name="Invite someone")
    invite.get_by_label("E-mail address").fill("ivy@example.com")
    invite.get_by_label("Role").select_option("responder")
    invite.get_by_label("Suggested username").fill("ivy")
    invite.get_by_role("button", name="Send the invitation").click()
    admin.wait_for_url("**/o/acme/members/")
    assert "Invited ivy@example.com" in admin.get_by_role("status").inner_text()
    invitations = admin.locator("main table").last.inner_text()
    assert "ivy@example.com" in invitations
    assert "Responder" in invitations

    # The invitee, in their own browser, opens the link from the e-mail.
    (message,) = mailoutbox
    assert message.to == ["ivy@example.com"]
    invitee = context_for()
    invitee.goto(invitation_link(message))
    assert invitee.get_by_role("heading", level=1).inner_text() == "Join Acme"
    assert invitee.get_by_label("Username").input_value() == "ivy"
    invitee.get_by_label("First name").fill("Ivy")
    invitee.get_by_label(re.compile(r"^Password:?$")).fill(NEW_PASSWORD)
    invitee.get_by_label(re.compile(r"^Password \(again\):?$")).fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Create my account and join").click()
    invitee.wait_for_url("**/o/acme/")
    assert invitee.get_by_role("heading", level=1).inner_text() == "Acme"
    assert "ivy, responder of this organization" in invitee.locator("main").inner_text()
    assert "Welcome to Acme" in invitee.get_by_role("status").inner_text()

    # The link is used up; the admin sees ivy among the members, no longer invited.
    response = context_for().goto(invitation_link(message))
    assert response.status == 404
    admin.reload()
    members = admin.locator("main table").first.inner_text()
    assert re.search(r"ivy\s+ivy@example.com\s+Responder", members), members
    assert "No open invitations" in admin.locator("main table").last.inner_text()
    assert admin.problems == []
    assert invitee.problems == []


def test_a_forgotten_password_is_reset_from_the_login_page(context_for, acme, mailoutbox):
    page = context_for()
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail address").fill("dave@example.com")
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_url("**/accounts/password-reset/sent/")
    assert page.get_by_role("heading", level=1).inner_text() == "Check your e-mail"

    (message,) = mailoutbox
    link = re.search(r"https?://\S+/accounts/reset/\S+/", message.body).group(0)
    page.goto(link)
    page.get_by_label(re.compile(r"^New password:?$")).fill(NEW_PASSWORD)
    page.get_by_label(re.compile(r"^New password confirmation:?$")).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    page.wait_for_url("**/accounts/reset/done/")
    page.get_by_role("link", name="Log in").last.click()
    log_in(page, "dave", NEW_PASSWORD)
    page.wait_for_url("**/o/acme/")
    assert page.problems == []
