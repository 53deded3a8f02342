"""The portal in a real browser: log in, pick an organization, switch, log out.

Drives Debian's chromium through Playwright's sync API against pytest-django's live server.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tenancy import services
from tenancy.models import Role, TeamMembership
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def js_errors(page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture
def two_orgs(make_org, make_user):
    """carol: responder of Acme and Globex, lead of Acme's Platform SRE team."""
    acme = make_org("acme", "Acme")
    globex = make_org("globex", "Globex")
    carol = make_user("carol", first_name="Carol", last_name="Reyes")
    dave = make_user("dave", first_name="Dave", last_name="Kim")
    services.membership_create(organization=acme, actor=None, user=carol, role=Role.RESPONDER)
    services.membership_create(organization=acme, actor=None, user=dave, role=Role.ADMIN)
    services.membership_create(organization=globex, actor=None, user=carol, role=Role.REPORTER)

    platform = services.team_create(
        organization=acme, actor=None, slug="platform", name="Platform SRE"
    )
    services.team_create(organization=acme, actor=None, slug="network", name="Network Operations")
    services.team_member_add(
        organization=acme,
        actor=None,
        team=platform,
        user=carol,
        role=TeamMembership.TeamRole.LEAD,
    )
    services.team_member_add(organization=acme, actor=None, team=platform, user=dave)
    services.team_create(organization=globex, actor=None, slug="operations", name="Operations")
    return {"acme": acme, "globex": globex, "carol": carol}


def log_in(page, username: str, password: str):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def team_names(page) -> list[str]:
    return page.locator("table tbody tr td:first-child a").all_inner_texts()


def test_log_in_switch_organizations_and_log_out(page, js_errors, two_orgs):
    log_in(page, "carol", PASSWORD)

    # Two organizations: the picker, alphabetical.
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your organizations"
    cards = page.locator("main .cards > li")
    assert cards.count() == 2
    assert [text.splitlines()[0] for text in cards.all_inner_texts()] == ["Acme", "Globex"]

    # Into Acme: home, then its teams, then a team's members.
    page.get_by_role("link", name="Acme", exact=True).click()
    page.wait_for_url("**/o/acme/")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme"
    assert "carol, responder of this organization" in page.locator("main").inner_text()

    page.get_by_role("navigation", name="Organization").get_by_role("link", name="Teams").click()
    page.wait_for_url("**/o/acme/teams/")
    assert sorted(team_names(page)) == ["Network Operations", "Platform SRE"]

    page.get_by_role("link", name="Platform SRE").click()
    page.wait_for_url("**/o/acme/teams/platform/")
    assert page.get_by_role("heading", level=1).inner_text() == "Platform SRE"
    rows = page.locator("main table tbody tr").all_inner_texts()
    assert len(rows) == 2, rows
    assert any("carol" in row and "Lead" in row for row in rows), rows
    assert any("dave" in row for row in rows), rows

    # Switch to Globex through the header.
    switcher = page.locator("details.switcher")
    switch = page.get_by_label("Switch organization")
    assert switch.inner_text() == "Acme"
    globex_link = switcher.get_by_role("link", name=re.compile(r"^Globex"))
    assert not globex_link.is_visible()
    switch.click()
    assert switcher.get_attribute("open") is not None
    assert switcher.locator("a[aria-current='true']").inner_text().startswith("Acme")
    globex_link.click()
    page.wait_for_url("**/o/globex/")
    assert page.get_by_role("heading", level=1).inner_text() == "Globex"
    assert page.get_by_label("Switch organization").inner_text() == "Globex"

    # Globex's teams only: none of Acme's.
    page.get_by_role("navigation", name="Organization").get_by_role("link", name="Teams").click()
    page.wait_for_url("**/o/globex/teams/")
    assert team_names(page) == ["Operations"]
    assert "Platform SRE" not in page.locator("main").inner_text()

    # Acme's team under Globex's URL is simply not there.
    response = page.goto("/o/globex/teams/platform/")
    assert response.status == 404

    # Log out: back on the login page, and the portal asks to log in again.
    page.goto("/o/globex/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    assert page.get_by_role("heading", level=1).inner_text() == "Log in to Beacon"
    assert page.get_by_role("button", name="Log out").count() == 0

    page.goto("/o/acme/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next=/o/acme/$"))

    assert js_errors == []


def test_wrong_password_shows_an_error(page, two_orgs):
    log_in(page, "carol", "not-the-password")

    alert = page.get_by_role("alert")
    assert "correct username and password" in alert.inner_text()
    assert urlsplit(page.url).path == "/accounts/login/"
    # The username is kept, the password is not.
    assert page.get_by_label("Username").input_value() == "carol"
    assert page.get_by_label("Password").input_value() == ""
    assert page.get_by_role("button", name="Log out").count() == 0


def test_api_docs_load_without_leaving_the_host(page, live_server):
    """Swagger UI renders from local static files; nothing is fetched from another host."""
    own = urlsplit(live_server.url).netloc
    off_host: list[str] = []

    def guard(route):
        url = route.request.url
        if urlsplit(url).netloc != own and not url.startswith("data:"):
            off_host.append(url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", guard)
    page.goto("/api/docs/")

    title = page.locator(".swagger-ui .info .title")
    title.wait_for()
    assert "Beacon API" in title.inner_text()
    page.locator(".opblock-summary-path", has_text="/api/v1/orgs/{org}/teams/").first.wait_for()
    assert off_host == []


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    import base64
    import time

    from django_otp.oath import TOTP

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key)
    totp.time = time.time() + steps_ahead * 30
    return str(totp.token()).zfill(6)


def test_two_factor_enrolment_then_login_with_a_code_and_no_csp_violations(page, two_orgs):
    """dave (an admin) turns on two-factor authentication, then logs in with a code."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    log_in(page, "dave", PASSWORD)
    page.wait_for_url("**/o/acme/")
    for path in ("/admin/", "/admin/tenancy/team/", "/api/docs/"):
        page.goto(path)
        page.wait_for_load_state("networkidle")

    page.goto("/o/acme/")
    page.get_by_role("link", name="Dave Kim").click()
    page.wait_for_url("**/account/two-factor/")
    assert page.locator(".qr svg").is_visible()
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("Code from your authenticator app").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    assert "Two-factor authentication is on." in page.get_by_role("status").inner_text()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    log_in(page, "dave", PASSWORD)
    assert "the code from your authenticator app" in page.get_by_role("alert").inner_text()
    page.get_by_label("Username").fill("dave")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill(totp_code(secret, steps_ahead=1))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/o/acme/")
    assert violations == []
