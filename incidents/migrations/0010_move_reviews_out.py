"""Post-incident reviews move to the ``reviews`` app (reviews/migrations/0001_initial).

Only the state moves: the tables are renamed to ``reviews_postincidentreview`` and
``reviews_actionitem`` and keep their rows, ids, indexes and row-level security.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0009_timeline_kinds"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable("postincidentreview", "reviews_postincidentreview"),
                migrations.AlterModelTable("actionitem", "reviews_actionitem"),
            ],
            state_operations=[
                migrations.DeleteModel("ActionItem"),
                migrations.DeleteModel("PostIncidentReview"),
            ],
        ),
    ]
