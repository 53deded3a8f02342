"""Moving the severity map from the service to alerts loses no map, and going back
restores them.

The database is taken back to where the map was a column of the service, filled the old
way, and migrated forward again, as the owner runs migrate."""

from __future__ import annotations

import pytest

from alerts.models import SeverityMap
from incidents.models import Service
from tenancy import rls

from .test_migrations import _leaves, _migrate, _policies, _sql, migrated_back

pytestmark = [pytest.mark.postgres, pytest.mark.db_owner, pytest.mark.django_db(transaction=True)]

BEFORE = [("alerts", "0003_integration_table"), ("incidents", "0011_without_alert_grouping")]
MAPS = {
    "acme": {"warning": {"impact": 1, "urgency": 2, "severity": "sev2"}},
    "globex": {"info": {"urgency": 1}},
}


@pytest.fixture
def old_apps():
    with migrated_back(BEFORE) as apps:
        yield apps


def _fill(apps) -> dict:
    """Per organization, a service with a map and one with the defaults (an empty map)."""
    Organization = apps.get_model("tenancy", "Organization")
    OldService = apps.get_model("incidents", "Service")
    expected = {}
    for slug, levels in MAPS.items():
        organization = Organization.objects.create(slug=slug, name=slug.title())
        mapped = OldService.objects.create(
            organization=organization, slug="db", name="Database", alert_severity_map=levels
        )
        OldService.objects.create(organization=organization, slug="web", name="Web")
        expected[mapped.pk] = (organization.pk, levels)
    return expected


def test_every_map_moves_to_alerts_and_back(old_apps):
    expected = _fill(old_apps)

    _migrate(_leaves())
    rls.protect_tables(rls.tenant_tables())
    found = {
        row.service_id: (row.organization_id, row.levels) for row in SeverityMap.objects.unscoped()
    }
    assert found == expected
    assert Service.objects.unscoped().count() == 4  # the services without a map stay
    assert not _sql(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'incidents_service' AND column_name = 'alert_severity_map'"
    )
    assert _policies("alerts_severitymap") == [("alerts_severitymap", rls.POLICY)]

    # Going back puts each map on its service again, the defaults where there was none.
    executor = _migrate(BEFORE)
    OldService = executor.loader.project_state(BEFORE).apps.get_model("incidents", "Service")
    back = {
        service.pk: (service.organization_id, service.alert_severity_map)
        for service in OldService.objects.exclude(alert_severity_map={})
    }
    assert back == expected
    assert OldService.objects.filter(alert_severity_map={}).count() == 2
