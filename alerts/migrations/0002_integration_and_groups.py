"""Integrations move here from incidents, and alert groups take over grouping.

Nothing is dropped: the model ``Integration`` changes app without its table changing (it
is renamed ``alerts_integration`` by 0003, once incidents let go of it), and every
incident an integration's alert opened gets its alert group, open while the incident is.
``incidents`` then drops its ``integration`` column and its unique index on open keys (its
migration 0009 runs after this one); the groups' index holds the rule from now on.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import alerts.models

# The incident states that were open when this migration was written.
OPEN_STATES = ("new", "acknowledged", "in_progress", "on_hold")
BATCH = 1000


def _see_every_organization(apps, schema_editor) -> None:
    """A migrating owner is subject to row-level security (FORCE) like everyone else."""
    if schema_editor.connection.vendor != "postgresql":
        return
    Organization = apps.get_model("tenancy", "Organization")
    ids = ",".join(str(pk) for pk in Organization.objects.values_list("pk", flat=True))
    schema_editor.execute("SELECT set_config('app.organization_id', %s, true)", [ids])


def groups_from_incidents(apps, schema_editor):
    _see_every_organization(apps, schema_editor)
    Incident = apps.get_model("incidents", "Incident")
    AlertGroup = apps.get_model("alerts", "AlertGroup")
    rows = (
        Incident.objects.filter(integration_id__isnull=False)
        .order_by("pk")
        .values_list("pk", "organization_id", "integration_id", "dedup_key", "status", "created_at")
    )
    batch = []
    for pk, organization_id, integration_id, dedup_key, status, created_at in rows.iterator():
        batch.append(
            AlertGroup(
                organization_id=organization_id,
                integration_id=integration_id,
                dedup_key=dedup_key,
                incident_id=pk,
                is_open=status in OPEN_STATES,
                created_at=created_at,
            )
        )
        if len(batch) == BATCH:
            AlertGroup.objects.bulk_create(batch)
            batch = []
    AlertGroup.objects.bulk_create(batch)


def incidents_from_groups(apps, schema_editor):
    _see_every_organization(apps, schema_editor)
    Incident = apps.get_model("incidents", "Incident")
    AlertGroup = apps.get_model("alerts", "AlertGroup")
    groups = AlertGroup.objects.order_by("pk").values_list("incident_id", "integration_id")
    for incident_id, integration_id in groups.iterator():
        Incident.objects.filter(pk=incident_id).update(integration_id=integration_id)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("incidents", "0010_move_reviews_out"),
        ("tenancy", "0005_invitation"),
    ]
    run_before = [("incidents", "0011_without_alert_grouping")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Integration",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("pagerduty", "PagerDuty Events API v2"),
                                    ("alertmanager", "Prometheus Alertmanager / Grafana"),
                                    ("opsgenie", "Opsgenie Alert API"),
                                    ("generic", "Generic JSON webhook"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("name", models.CharField(max_length=100)),
                        (
                            "key",
                            models.CharField(
                                default=alerts.models.integration_key,
                                editable=False,
                                max_length=64,
                                unique=True,
                            ),
                        ),
                        (
                            "is_active",
                            models.BooleanField(
                                default=True,
                                help_text="Events sent with the key of an inactive integration are refused.",
                            ),
                        ),
                        (
                            "rate_limit_per_minute",
                            models.PositiveIntegerField(
                                default=6000,
                                help_text="Requests accepted per minute; more answer 429 so the sender retries later.",
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, editable=False),
                        ),
                        (
                            "organization",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenancy.organization",
                            ),
                        ),
                        (
                            "service",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="integrations",
                                to="incidents.service",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "incidents_integration",
                        "ordering": ["service__name", "name"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("organization", "service", "name"),
                                name="integration_service_name",
                            )
                        ],
                    },
                ),
                migrations.AlterField(
                    model_name="alert",
                    name="integration",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="alerts",
                        to="alerts.integration",
                    ),
                ),
                migrations.AlterField(
                    model_name="changeevent",
                    name="integration",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="change_events",
                        to="alerts.integration",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="AlertGroup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("dedup_key", models.CharField(max_length=255)),
                ("is_open", models.BooleanField(default=True)),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                (
                    "incident",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="alert_group",
                        to="incidents.incident",
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
                (
                    "integration",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="groups",
                        to="alerts.integration",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("is_open", True), models.Q(("dedup_key", ""), _negated=True)),
                        fields=("organization", "integration", "dedup_key"),
                        name="alert_group_open_key",
                    )
                ],
            },
        ),
        migrations.RunPython(groups_from_incidents, incidents_from_groups),
    ]
