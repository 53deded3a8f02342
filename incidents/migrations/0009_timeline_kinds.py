"""Attachments and published reviews get timeline kinds of their own.

They were recorded as field changes of made-up fields ("attachment", "review"); existing
entries are rewritten to the new kinds, and back when the migration is reversed.
"""

from django.db import migrations, models

from tenancy import rls

BATCH = 500


def _every_tenant(apps, schema_editor):
    """Row-level security binds the owner too (FORCE): let the migration's transaction see
    every organization's entries. Nothing happens on SQLite."""
    Organization = apps.get_model("tenancy", "Organization")
    ids = list(Organization.objects.values_list("pk", flat=True))
    rls.set_tenant(ids, using=schema_editor.connection.alias)


def _rewrite(apps, schema_editor, entries, convert):
    TimelineEntry = apps.get_model("incidents", "TimelineEntry")
    _every_tenant(apps, schema_editor)
    changed = []
    for entry in entries(TimelineEntry).order_by("pk").iterator(chunk_size=BATCH):
        entry.kind, entry.data = convert(apps, entry)
        changed.append(entry)
    TimelineEntry.objects.bulk_update(changed, ["kind", "data"], batch_size=BATCH)


def _field_changes(field):
    return lambda TimelineEntry: TimelineEntry.objects.filter(
        kind="field_changed", data__field=field
    )


def _to_attachment_kind(apps, entry):
    data = entry.data or {}
    if data.get("to"):
        return "attachment_added", {"name": data["to"]}
    return "attachment_removed", {"name": data.get("from") or ""}


def _to_review_kind(apps, entry):
    PostIncidentReview = apps.get_model("incidents", "PostIncidentReview")
    review = PostIncidentReview.objects.filter(incident_id=entry.incident_id).first()
    return "review_published", {"review": review.pk} if review is not None else {}


def forwards(apps, schema_editor):
    _rewrite(apps, schema_editor, _field_changes("attachment"), _to_attachment_kind)
    _rewrite(apps, schema_editor, _field_changes("review"), _to_review_kind)


def _from_attachment_kind(apps, entry):
    name = (entry.data or {}).get("name", "")
    if entry.kind == "attachment_added":
        return "field_changed", {"field": "attachment", "to": name}
    return "field_changed", {"field": "attachment", "from": name, "to": None}


def backwards(apps, schema_editor):
    _rewrite(
        apps,
        schema_editor,
        lambda TimelineEntry: TimelineEntry.objects.filter(
            kind__in=["attachment_added", "attachment_removed"]
        ),
        _from_attachment_kind,
    )
    _rewrite(
        apps,
        schema_editor,
        lambda TimelineEntry: TimelineEntry.objects.filter(kind="review_published"),
        lambda apps, entry: ("field_changed", {"field": "review", "to": "published"}),
    )


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0008_integrations"),
    ]

    operations = [
        migrations.AlterField(
            model_name="timelineentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("created", "Created"),
                    ("status_changed", "Status changed"),
                    ("field_changed", "Changed"),
                    ("assigned", "Assigned"),
                    ("priority_overridden", "Priority overridden"),
                    ("comment", "Comment"),
                    ("status_update", "Status update"),
                    ("notification", "Notification"),
                    ("automation", "Automation"),
                    ("attachment_added", "Attachment added"),
                    ("attachment_removed", "Attachment removed"),
                    ("review_published", "Review published"),
                ],
                max_length=24,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
