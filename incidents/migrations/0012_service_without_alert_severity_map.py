"""The severity map belongs to alerts now (``alerts.SeverityMap``, filled by its 0004)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0011_without_alert_grouping"),
        ("alerts", "0004_severity_map"),
    ]

    operations = [
        migrations.RemoveField(model_name="service", name="alert_severity_map"),
    ]
