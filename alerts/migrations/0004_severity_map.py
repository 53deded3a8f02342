"""Severity maps move here from incidents: each service's non-empty map becomes a row.

``incidents`` drops its ``alert_severity_map`` column after this (its migration 0012);
going back, 0012 brings the column back first and this copies the rows into it.
"""

import django.db.models.deletion
from django.db import migrations, models

import alerts.severities

BATCH = 1000


def _see_every_organization(apps, schema_editor) -> None:
    """A migrating owner is subject to row-level security (FORCE) like everyone else."""
    if schema_editor.connection.vendor != "postgresql":
        return
    Organization = apps.get_model("tenancy", "Organization")
    ids = ",".join(str(pk) for pk in Organization.objects.values_list("pk", flat=True))
    schema_editor.execute("SELECT set_config('app.organization_id', %s, true)", [ids])


def maps_from_services(apps, schema_editor):
    _see_every_organization(apps, schema_editor)
    Service = apps.get_model("incidents", "Service")
    SeverityMap = apps.get_model("alerts", "SeverityMap")
    rows = (
        Service.objects.exclude(alert_severity_map={})
        .order_by("pk")
        .values_list("pk", "organization_id", "alert_severity_map")
    )
    SeverityMap.objects.bulk_create(
        (
            SeverityMap(service_id=pk, organization_id=organization_id, levels=levels)
            for pk, organization_id, levels in rows.iterator()
        ),
        batch_size=BATCH,
    )


def services_from_maps(apps, schema_editor):
    _see_every_organization(apps, schema_editor)
    Service = apps.get_model("incidents", "Service")
    SeverityMap = apps.get_model("alerts", "SeverityMap")
    for service_id, levels in SeverityMap.objects.values_list("service_id", "levels").iterator():
        Service.objects.filter(pk=service_id).update(alert_severity_map=levels)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_integration_table"),
        ("incidents", "0011_without_alert_grouping"),
        ("tenancy", "0005_invitation"),
    ]

    operations = [
        migrations.CreateModel(
            name="SeverityMap",
            fields=[
                (
                    "service",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="severity_map",
                        serialize=False,
                        to="incidents.service",
                    ),
                ),
                (
                    "levels",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="How an alert's severity (critical, error, warning, info) "
                        "sets a new incident's impact, urgency and severity, e.g. "
                        '{"warning": {"impact": 2, "urgency": 2, "severity": "sev3"}}; '
                        "severities left out keep the defaults.",
                        validators=[alerts.severities.validate_severity_map],
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
        ),
        migrations.RunPython(maps_from_services, services_from_maps),
    ]
