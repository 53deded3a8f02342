"""On-call end to end in a real browser: an administrator builds a schedule and an
escalation policy in the admin, gives the policy to a service and previews it in the
portal; an alert opens an incident, the escalation pages whoever the schedule has on call,
and she acknowledges from "My pages"."""

from __future__ import annotations

import json
import urllib.request

import pytest

from alerts import services as alert_services
from incidents import services as incident_services
from incidents.models import Incident
from incidents.states import Status
from oncall.models import EscalationPolicy, Page, Schedule
from oncall.services import escalations
from tenancy import rls, services
from tenancy.models import Role
from tests.browser.test_portal_browser import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def acme(make_org, make_user):
    acme = make_org("acme", "Acme")
    bob = make_user("bob", first_name="Bob", last_name="Adams")
    carol = make_user("carol", first_name="Carol", last_name="Reyes")
    services.membership_create(organization=acme, actor=None, user=bob, role=Role.ADMIN)
    services.membership_create(organization=acme, actor=None, user=carol, role=Role.RESPONDER)
    checkout = incident_services.service_create(
        organization=acme, actor=None, slug="checkout", name="Checkout"
    )
    integration = alert_services.integration_create(
        organization=acme, actor=None, service=checkout, kind="generic", name="Uptime"
    )
    return {"org": acme, "carol": carol, "checkout": checkout, "integration": integration}


def _in_acme(org, query):
    with rls.tenant_context(org.pk):
        return query()


def _add_row(page):
    """An inline's "Add another …" link (the admin's inlines add their rows on demand)."""
    page.locator(".add-row a").first.click()


def _save(page):
    page.locator('input[name="_continue"]').click()
    page.wait_for_load_state()
    assert page.locator(".errornote, .errorlist").count() == 0, page.content()


def test_an_admin_sets_up_on_call_and_an_alert_pages_the_person_on_call(
    open_page, live_server, acme, mailoutbox
):
    org = acme["org"]
    admin = open_page()
    log_in(admin, "bob", PASSWORD)
    admin.wait_for_url("**/o/acme/")

    # A schedule with one weekly layer whose rotation is Carol, on one page.
    admin.goto("/admin/oncall/schedule/add/")
    admin.locator('[name="name"]').fill("Platform primary")
    admin.locator('[name="time_zone"]').select_option("Europe/Berlin")
    _add_row(admin)
    admin.locator('[name="layers-0-name"]').fill("Weekly")
    admin.locator('[name="layers-0-position"]').fill("0")
    admin.locator('[name="layers-0-rotation_start"]').fill("2026-01-05")
    admin.locator('[name="layers-0-handoff_time"]').fill("09:00")
    admin.locator('[name="layers-0-shift_length"]').fill("1")
    admin.locator('[name="layers-0-shift_unit"]').select_option("weeks")
    admin.locator('[name="layers-0-participants"]').fill("carol")
    _save(admin)

    # A policy whose one step pages the schedule, on one page.
    admin.goto("/admin/oncall/escalationpolicy/add/")
    admin.locator('[name="name"]').fill("Checkout on-call")
    _add_row(admin)
    admin.locator('[name="steps-0-position"]').fill("0")
    admin.locator('[name="steps-0-delay_minutes"]').fill("5")
    admin.locator('[name="steps-0-schedules"]').select_option(label="Platform primary")
    _save(admin)

    # The service pages through it.
    admin.goto(f"/admin/incidents/service/{acme['checkout'].pk}/change/")
    admin.locator('[name="escalation_policy"]').select_option(label="Checkout on-call")
    _save(admin)

    # The preview in the portal names Carol for the first step.
    policy = _in_acme(org, lambda: EscalationPolicy.objects.for_org(org).get())
    admin.goto(f"/o/acme/oncall/policies/{policy.pk}/")
    preview = admin.locator("table.preview tbody tr").first
    assert "carol" in preview.inner_text()
    schedule = _in_acme(org, lambda: Schedule.objects.for_org(org).get())
    admin.goto(f"/o/acme/oncall/schedules/{schedule.pk}/")
    assert "Carol Reyes" in admin.locator("dl.facts").inner_text()

    # An alert opens an incident; the next tick pages the person on call and mails her.
    alert = {"summary": "Checkout returns 502", "severity": "critical", "dedup_key": "502"}
    request = urllib.request.Request(
        f"{live_server.url}/integrations/generic/{acme['integration'].key}/",
        data=json.dumps(alert).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 202
    assert escalations.escalations_tick(organization_id=org.pk) == 1
    [page] = _in_acme(org, lambda: list(Page.objects.for_org(org)))
    assert page.recipient == acme["carol"]
    [mail] = mailoutbox
    assert mail.to == [acme["carol"].email]

    # Carol sees the page from her home page and acknowledges it from "My pages".
    carol = open_page()
    log_in(carol, "carol", PASSWORD)
    carol.wait_for_url("**/o/acme/")
    carol.get_by_role("link", name="1 page waiting for you").click()
    carol.wait_for_url("**/o/acme/pages/")
    carol.get_by_role("button", name="Acknowledge").click()
    carol.wait_for_url("**/o/acme/pages/")
    assert "Acknowledged INC-1" in carol.locator("body").inner_text()
    incident = _in_acme(org, lambda: Incident.objects.for_org(org).get())
    assert incident.status == Status.ACKNOWLEDGED
    assert not admin.problems
    assert not carol.problems
