"""An incident from report to resolution, in two real browsers: a reporter files it through
the portal's form, a responder acknowledges and resolves it with the buttons, and the
reporter's open page follows along without a reload (static/beacon/live.js).
"""

from __future__ import annotations

import re

import pytest

from incidents import services as incident_services
from incidents.models import Incident
from tenancy import rls, services
from tenancy.models import Role
from tests.browser.test_portal_browser import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def acme(make_org, make_user):
    acme = make_org("acme", "Acme")
    erin = make_user("erin", first_name="Erin", last_name="Novak")
    carol = make_user("carol", first_name="Carol", last_name="Reyes")
    services.membership_create(organization=acme, actor=None, user=erin, role=Role.REPORTER)
    services.membership_create(organization=acme, actor=None, user=carol, role=Role.RESPONDER)
    network = services.team_create(organization=acme, actor=None, slug="network", name="Network")
    incident_services.service_create(
        organization=acme, actor=None, slug="vpn", name="Corporate VPN", team=network
    )
    return acme


def test_report_acknowledge_resolve_and_follow_it_live(open_page, acme, settings):
    from playwright.sync_api import expect

    settings.BEACON_LIVE_POLL_SECONDS = 1

    # Erin, a reporter, files the incident through the form.
    reporter = open_page()
    log_in(reporter, "erin", PASSWORD)
    reporter.wait_for_url("**/o/acme/")
    reporter.get_by_role("link", name="Report an incident").first.click()
    reporter.wait_for_url("**/o/acme/incidents/new/")
    reporter.get_by_label("What is wrong?").fill("Cannot reach the intranet")
    reporter.get_by_label("Details").fill("Since 9:00.\nOn every laptop in Berlin.")
    reporter.get_by_label("Which service?").select_option(label="Corporate VPN")
    reporter.get_by_label("My team or several people").check()
    reporter.get_by_label("Work has stopped").check()
    reporter.get_by_role("button", name="Report the incident").click()

    reporter.wait_for_url("**/o/acme/incidents/1/")
    expect(reporter.get_by_role("status").first).to_contain_text("your report is INC-1")
    expect(reporter.get_by_role("heading", level=1)).to_have_text("Cannot reach the intranet")
    expect(reporter.locator("[data-live-status]")).to_have_text("New")
    expect(reporter.locator(".badges")).to_contain_text("P2 – High")  # impact 2 x urgency 1
    assert reporter.get_by_role("button", name="Acknowledge").count() == 0

    # Carol, a responder, finds it in the queue, acknowledges and resolves it.
    responder = open_page()
    log_in(responder, "carol", PASSWORD)
    responder.wait_for_url("**/o/acme/")
    nav = responder.get_by_role("navigation", name="Organization")
    nav.get_by_role("link", name="Incidents").click()
    responder.wait_for_url("**/o/acme/incidents/")
    responder.get_by_role("link", name="Cannot reach the intranet").click()
    responder.wait_for_url("**/o/acme/incidents/1/")
    expect(responder.locator(".prose").first).to_contain_text("On every laptop in Berlin.")

    responder.get_by_role("button", name="Acknowledge").click()
    expect(responder.get_by_role("status").first).to_contain_text("INC-1 is now Acknowledged.")
    expect(responder.locator("[data-live-status]")).to_have_text("Acknowledged")
    assert responder.get_by_role("button", name="Acknowledge").count() == 0

    responder.get_by_label("Resolution").fill("Restarted the VPN concentrator.")
    responder.get_by_role("button", name="Resolve").click()
    expect(responder.get_by_role("status").first).to_contain_text("INC-1 is now Resolved.")
    expect(responder.locator("[data-live-status]")).to_have_text("Resolved")
    expect(responder.get_by_role("button", name="Close")).to_be_visible()

    # Erin's page, still open, follows without a reload.
    expect(reporter.locator("#timeline-entries")).to_contain_text(
        "changed the status from Acknowledged to Resolved", timeout=10_000
    )
    expect(reporter.locator("#incident-live-notice")).to_be_visible()
    expect(reporter.locator("#incident-live-notice")).to_contain_text("now Resolved")
    expect(reporter.locator("[data-live-status]")).to_have_text("Resolved")

    # And after a reload, the resolution is there for her to read.
    reporter.reload()
    expect(reporter.locator("[data-live-status]")).to_have_text("Resolved")
    expect(reporter.locator("#resolution-text")).to_have_text("Restarted the VPN concentrator.")
    assert re.search(r"/o/acme/incidents/1/$", reporter.url)

    # Erin confirms that it works again: the incident closes with her score.
    closure = reporter.locator("#closure")
    closure.get_by_label("5", exact=True).check()
    closure.get_by_label("Comment (optional)").fill("Works again, thanks!")
    closure.get_by_role("button", name="Yes, it is fixed — close it").click()
    expect(reporter.locator("[data-live-status]")).to_have_text("Closed")
    assert reporter.locator("#closure").count() == 0
    with rls.tenant_context(acme.pk):
        closed = Incident.objects.for_org(acme).get(number=1)
    assert (closed.status, closed.satisfaction_score) == ("closed", 5)
    assert closed.satisfaction_comment == "Works again, thanks!"

    assert reporter.problems == []
    assert responder.problems == []
