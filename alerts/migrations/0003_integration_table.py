"""The integrations' table takes this app's name, now that incidents no longer refers to it.

A rename: the rows, their keys, row-level security and its policies stay, and the
foreign keys of alerts, change events and alert groups follow it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_integration_and_groups"),
        ("incidents", "0011_without_alert_grouping"),
    ]

    operations = [
        migrations.AlterModelTable(name="integration", table=None),
    ]
