"""The incident no longer names the integration whose alert opened it, nor holds the rule
that a key has one open incident: alert groups in ``alerts`` do (their migration 0002,
which runs before this one, copied both). Its ``dedup_key`` stays, a plain field of the
incident resource. The model ``Integration`` leaves this app's state; its table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_move_reviews_out"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="incident", name="incident_open_dedup_key"),
        migrations.RemoveField(model_name="incident", name="integration"),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Integration")]
        ),
    ]
