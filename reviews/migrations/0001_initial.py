"""Post-incident reviews, moved from ``incidents`` with their rows.

incidents/migrations/0010_move_reviews_out renamed the tables; here the models take them
over in the migration state only, and the content types (with their permissions and the
admin's history) move along.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ("postincidentreview", "actionitem")


def _move_content_types(source, target):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        content_types = ContentType.objects.using(schema_editor.connection.alias)
        for model in MODELS:
            if not content_types.filter(app_label=target, model=model).exists():
                content_types.filter(app_label=source, model=model).update(app_label=target)

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("incidents", "0010_move_reviews_out"),
        ("tenancy", "0005_invitation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='PostIncidentReview',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('draft', 'Draft'), ('in_review', 'In review'), ('published', 'Published')], default='draft', max_length=10)),
                        ('summary', models.TextField(blank=True)),
                        ('impact', models.TextField(blank=True)),
                        ('root_causes', models.TextField(blank=True)),
                        ('contributing_factors', models.TextField(blank=True)),
                        ('lessons', models.TextField(blank=True, help_text='What went well, what did not, luck.')),
                        ('timeline_summary', models.TextField(blank=True, help_text="Pre-filled from the incident's timeline (UTC).")),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('published_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('incident', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='review', to='incidents.incident')),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.organization')),
                        ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'post-incident review',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ActionItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('title', models.CharField(max_length=200)),
                        ('due_date', models.DateField(blank=True, null=True)),
                        ('status', models.CharField(choices=[('open', 'Open'), ('in_progress', 'In progress'), ('done', 'Done'), ('wont_do', "Won't do")], default='open', max_length=12)),
                        ('external_url', models.URLField(blank=True, help_text='E.g. the Jira issue tracking it.')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.organization')),
                        ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('review', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='action_items', to='reviews.postincidentreview')),
                    ],
                    options={
                        'ordering': ['created_at', 'id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='postincidentreview',
                    index=models.Index(fields=['organization', '-created_at', '-id'], name='review_org_recent'),
                ),
                migrations.AddIndex(
                    model_name='postincidentreview',
                    index=models.Index(fields=['organization', 'status'], name='review_org_status'),
                ),
                migrations.AddIndex(
                    model_name='actionitem',
                    index=models.Index(fields=['organization', 'review', 'created_at'], name='action_item_review'),
                ),
            ],
        ),
        migrations.RunPython(
            _move_content_types("incidents", "reviews"), _move_content_types("reviews", "incidents")
        ),
    ]
