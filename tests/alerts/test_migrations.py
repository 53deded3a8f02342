"""Moving integrations and grouping from incidents to alerts loses no row.

The database is taken back to where it was before alerts owned them, filled the old way
(integrations in incidents, incidents naming the integration and key of the alert that
opened them, open and closed), and migrated forward again, as the owner runs migrate.
"""

from __future__ import annotations

import contextlib

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from alerts.models import Alert, AlertGroup, ChangeEvent, Integration
from incidents.models import Incident, TimelineEntry
from tenancy import rls

pytestmark = [pytest.mark.postgres, pytest.mark.db_owner, pytest.mark.django_db(transaction=True)]

BEFORE = [("alerts", "0001_initial"), ("incidents", "0008_integrations")]


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _sql(query, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def _policies(*tables):
    return _sql(
        "SELECT tablename, policyname FROM pg_policies WHERE tablename = ANY(%s) "
        "ORDER BY tablename, policyname",
        [list(tables)],
    )


@contextlib.contextmanager
def migrated_back(targets):
    """The models as they were at ``targets``; the schema comes forward again after."""
    executor = _migrate(targets)
    try:
        yield executor.loader.project_state(targets).apps
    finally:
        _migrate(_leaves())
        rls.protect_tables(rls.tenant_tables())  # what migrate's post_migrate does


@pytest.fixture
def old_apps():
    with migrated_back(BEFORE) as apps:
        yield apps


def _fill(apps) -> dict:
    """Two organizations with alert-opened incidents (open, resolved, closed), a manual
    incident, alerts, a change event and timeline entries, in the old shape."""
    Organization = apps.get_model("tenancy", "Organization")
    Service = apps.get_model("incidents", "Service")
    OldIntegration = apps.get_model("incidents", "Integration")
    OldIncident = apps.get_model("incidents", "Incident")
    OldAlert = apps.get_model("alerts", "Alert")
    OldChange = apps.get_model("alerts", "ChangeEvent")
    OldEntry = apps.get_model("incidents", "TimelineEntry")
    expected = {"integrations": {}, "incidents": {}, "alerts": 0, "entries": 0}
    for slug in ("acme", "globex"):
        organization = Organization.objects.create(slug=slug, name=slug.title())
        service = Service.objects.create(organization=organization, slug="db", name="Database")
        integration = OldIntegration.objects.create(
            organization=organization, service=service, kind="pagerduty", name="Datadog"
        )
        expected["integrations"][integration.key] = (organization.pk, service.pk)
        incidents = [
            # (number, dedup key, status, opened by the integration)
            (1, "disk", "resolved", True),
            (2, "disk", "new", True),  # the trigger after the resolution: its key's open one
            (3, "lag", "closed", True),
            (4, "cpu", "acknowledged", True),
            (5, "", "in_progress", False),  # reported in the portal
        ]
        for number, key, status, alerted in incidents:
            incident = OldIncident.objects.create(
                organization=organization,
                number=number,
                title=f"{slug} {number}",
                status=status,
                source="alert" if alerted else "portal",
                dedup_key=key,
                integration=integration if alerted else None,
            )
            expected["incidents"][(organization.pk, number)] = (key, status, alerted)
            OldEntry.objects.create(
                organization=organization,
                incident=incident,
                kind="created",
                actor_label="Datadog (PagerDuty Events API v2)",
            )
            expected["entries"] += 1
            if alerted:
                OldAlert.objects.create(
                    organization=organization,
                    integration=integration,
                    incident=incident,
                    action="trigger",
                    outcome="opened",
                    dedup_key=key,
                    summary=f"{key} on db-1",
                    payload={"dedup_key": key},
                )
                expected["alerts"] += 1
        OldChange.objects.create(
            organization=organization,
            integration=integration,
            service=service,
            summary="Deployed 42",
            timestamp="2026-03-01T12:00:00Z",
            payload={},
        )
    return expected


def test_migrating_forward_keeps_every_row_and_the_open_key_rule(old_apps):
    expected = _fill(old_apps)

    _migrate(_leaves())
    # The renamed table kept its row-level security and the key lookup's exception.
    assert _policies("alerts_integration") == [
        ("alerts_integration", "receiving_integration"),
        ("alerts_integration", rls.POLICY),
    ]
    rls.protect_tables(rls.tenant_tables())  # what migrate's post_migrate does

    integrations = {
        integration.key: (integration.organization_id, integration.service_id)
        for integration in Integration.objects.unscoped()
    }
    assert integrations == expected["integrations"]
    by_org = {i.organization_id: i for i in Integration.objects.unscoped()}
    incidents = Incident.objects.unscoped().select_related("alert_group")
    found = {}
    for incident in incidents:
        group = getattr(incident, "alert_group", None)
        found[(incident.organization_id, incident.number)] = (
            incident.dedup_key,
            incident.status,
            group is not None,
        )
        if group is not None:
            assert group.organization_id == incident.organization_id
            assert group.integration_id == by_org[incident.organization_id].pk
            assert group.dedup_key == incident.dedup_key
            assert group.is_open == incident.is_open
    assert found == expected["incidents"]
    assert AlertGroup.objects.unscoped().count() == 8
    assert AlertGroup.objects.unscoped().filter(is_open=True).count() == 4  # disk #2, cpu
    alerts = list(Alert.objects.unscoped().select_related("incident", "integration"))
    assert len(alerts) == expected["alerts"]
    for alert in alerts:
        assert alert.integration.organization_id == alert.organization_id
        assert alert.incident.dedup_key == alert.dedup_key
    changes = ChangeEvent.objects.unscoped().select_related("integration")
    assert [change.integration.kind for change in changes] == ["pagerduty", "pagerduty"]
    assert TimelineEntry.objects.unscoped().count() == expected["entries"]

    # One open group per key still: a second open group for "disk" is refused.
    holder = AlertGroup.objects.unscoped().get(
        organization__slug="acme", is_open=True, dedup_key="disk"
    )
    other = Incident.objects.unscoped().get(organization_id=holder.organization_id, number=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertGroup.objects.create(
            organization_id=holder.organization_id,
            integration_id=holder.integration_id,
            dedup_key="disk",
            incident=other,
        )

    # Row-level security covers the renamed and the new table, with the key lookup's
    # exception still on the integrations.
    protected = _sql(
        "SELECT relname FROM pg_class WHERE relname = ANY(%s) "
        "AND relrowsecurity AND relforcerowsecurity ORDER BY relname",
        [["alerts_alertgroup", "alerts_integration"]],
    )
    assert protected == [("alerts_alertgroup",), ("alerts_integration",)]
    assert _policies("alerts_alertgroup", "alerts_integration") == [
        ("alerts_alertgroup", rls.POLICY),
        ("alerts_integration", "receiving_integration"),
        ("alerts_integration", rls.POLICY),
    ]
    assert not _sql("SELECT 1 FROM pg_class WHERE relname = 'incidents_integration'")
