"""The admin and the portal's audit log show times in the organization's time zone, and
say which zone that is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from tenancy import audit
from tenancy import services as tenancy_services
from tenancy.models import AuditEvent, Role

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 1, 15, 10, 17, tzinfo=UTC)  # 11:17 in Paris
IN_PARIS, IN_UTC = "11:17 a.m.", "10:17 a.m."


@pytest.fixture
def paris(db):
    return tenancy_services.organization_create(
        slug="paris", name="Paris", timezone_name="Europe/Paris"
    )


@pytest.fixture
def event(paris):
    with time_machine.travel(MOMENT, tick=False):
        return audit.record(organization=paris, actor=None, action="test.recorded")


def admin_pages(event):
    return (
        reverse("admin:tenancy_auditevent_changelist"),
        reverse("admin:tenancy_auditevent_change", args=[event.pk]),
    )


def test_the_portal_audit_log_is_in_the_organizations_zone(paris, event, member, client_for):
    client = client_for(member(Role.OWNER, organization=paris))
    page = client.get(reverse("portal:audit-log", kwargs={"org": paris.slug})).content.decode()
    assert "When (Europe/Paris)" in page
    assert "2026-01-15 11:17:00" in page
    assert "2026-01-15 10:17:00" not in page


def test_the_admin_of_one_organization_sees_its_zone(paris, event, member, client_for):
    client = client_for(member(Role.OWNER, organization=paris))
    for url in admin_pages(event):
        page = client.get(url).content.decode()
        assert "Times are in Europe/Paris." in page, url
        assert IN_PARIS in page, url
        assert IN_UTC not in page, url


def test_several_organizations_list_in_utc_and_each_object_in_its_own_zone(
    paris, org, event, member, client_for
):
    """An admin of organizations in different zones, and the superuser."""
    person = member(Role.OWNER, organization=paris)
    tenancy_services.membership_create(organization=org, actor=None, user=person, role=Role.OWNER)
    superuser = member(Role.REPORTER, organization=org)
    superuser.is_superuser = True
    superuser.save()
    changelist, change = admin_pages(event)
    for user in (person, superuser):
        client = client_for(user)
        page = client.get(changelist).content.decode()
        assert "Times are in UTC." in page
        assert IN_UTC in page
        page = client.get(change).content.decode()
        assert "Times are in Europe/Paris." in page
        assert IN_PARIS in page
        assert IN_UTC not in page
    # The zone does not outlive the page.
    page = client_for(person).get(changelist).content.decode()
    assert "Times are in UTC." in page
    assert AuditEvent.objects.for_org(paris).filter(action="test.recorded").count() == 1
