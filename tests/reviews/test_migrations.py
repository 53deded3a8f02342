"""Reviews moved out of ``incidents`` with every row (PostgreSQL, migrated as the owner).

The test goes back to before the move, writes a published review with action items and
the timeline entries of the time (field changes of made-up fields), migrates forward and
finds every row again, with its relations, its new timeline kinds and its row-level
security. It all happens in the test's transaction (PostgreSQL's DDL is transactional),
so the database is as it was afterwards.
"""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps as django_apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidents import services
from incidents.models import Incident, TimelineEntry
from incidents.states import Status
from reviews import services as review_services
from reviews.models import ActionItem, PostIncidentReview
from tenancy import rls
from tenancy.models import Role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.db_owner]

BEFORE = [("incidents", "0008_integrations")]
TABLES = ("reviews_postincidentreview", "reviews_actionitem")


def migrate(targets):
    """Migrates to ``targets`` and returns the models as they are there."""
    # Rows written so far are checked now: PostgreSQL alters no table with checks pending.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    MigrationExecutor(connection).migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def sql(query, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def old_rows(apps, org, incident, owner):
    """A published review with two action items, as ``incidents`` stored them."""
    Review = apps.get_model("incidents", "PostIncidentReview")
    Item = apps.get_model("incidents", "ActionItem")
    Entry = apps.get_model("incidents", "TimelineEntry")
    published = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
    review = Review.objects.create(
        organization_id=org.pk,
        incident_id=incident.pk,
        status="published",
        summary="Checkout was down.",
        lessons="Canary first.",
        owner_id=owner.pk,
        created_by_id=owner.pk,
        published_at=published,
    )
    items = [
        Item.objects.create(
            organization_id=org.pk, review=review, title=title, owner_id=owner.pk, status=status
        )
        for title, status in (("Add a canary", "done"), ("Page the owner", "open"))
    ]

    def entry(data, is_public=True):
        return Entry.objects.create(
            organization_id=org.pk,
            incident_id=incident.pk,
            kind="field_changed",
            actor_id=owner.pk,
            actor_label=owner.username,
            data=data,
            is_public=is_public,
        ).pk

    entries = {
        "added": entry({"field": "attachment", "to": "trace.log"}),
        "removed": entry({"field": "attachment", "from": "trace.log", "to": None}),
        "published": entry({"field": "review", "to": "published"}, is_public=False),
        "impact": entry({"field": "impact", "from": 3, "to": 1}),
    }
    return review.pk, [item.pk for item in items], entries


def test_moving_reviews_keeps_every_row(org, member):
    owner = member(Role.RESPONDER)
    incident = services.incident_create(organization=org, actor=owner, title="Checkout down")
    incident = services.incident_transition(
        organization=org, actor=owner, incident=incident, status=Status.RESOLVED, resolution="x"
    )

    apps = migrate(BEFORE)
    assert sql("SELECT to_regclass('incidents_postincidentreview')") != [(None,)]
    # What migrate sends afterwards protects the tables there are and skips the others.
    rls.protect_after_migrate(django_apps.get_app_config("reviews"))
    rls.set_tenant([org.pk])  # row-level security binds the owner too
    review_id, item_ids, entries = old_rows(apps, org, incident, owner)
    migrate(latest())

    ContentType.objects.clear_cache()
    rls.set_tenant([org.pk])
    review = PostIncidentReview.objects.for_org(org).select_related("incident", "owner").get()
    assert (review.pk, review.incident, review.owner, review.created_by) == (
        review_id,
        incident,
        owner,
        owner,
    )
    assert (review.status, review.summary, review.lessons) == (
        "published",
        "Checkout was down.",
        "Canary first.",
    )
    assert review.published_at == datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
    assert Incident.objects.for_org(org).get(pk=incident.pk).review == review
    assert list(review.action_items.values_list("pk", "title", "owner", "status")) == [
        (item_ids[0], "Add a canary", owner.pk, "done"),
        (item_ids[1], "Page the owner", owner.pk, "open"),
    ]
    assert set(ActionItem.objects.for_org(org).values_list("organization", flat=True)) == {org.pk}

    rows = {
        pk: (kind, data)
        for pk, kind, data in TimelineEntry.objects.for_org(org)
        .filter(pk__in=entries.values())
        .values_list("pk", "kind", "data")
    }
    assert rows == {
        entries["added"]: ("attachment_added", {"name": "trace.log"}),
        entries["removed"]: ("attachment_removed", {"name": "trace.log"}),
        entries["published"]: ("review_published", {"review": review_id}),
        entries["impact"]: ("field_changed", {"field": "impact", "from": 3, "to": 1}),
    }

    # The tables carry their new names, their row-level security and their permissions.
    assert sql("SELECT to_regclass('incidents_postincidentreview')") == [(None,)]
    assert sql(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE relname = ANY(%s) ORDER BY relname",
        [list(TABLES)],
    ) == [("reviews_actionitem", True, True), ("reviews_postincidentreview", True, True)]
    policies = sql("SELECT tablename FROM pg_policies WHERE policyname = %s", [rls.POLICY])
    assert {(table,) for table in TABLES} <= set(policies)
    assert {
        (content_type.app_label, content_type.model)
        for content_type in ContentType.objects.filter(
            model__in=["postincidentreview", "actionitem"]
        )
    } == {("reviews", "postincidentreview"), ("reviews", "actionitem")}

    # And new rows follow the old ones.
    second = services.incident_create(organization=org, actor=owner, title="Second")
    second = services.incident_transition(
        organization=org, actor=owner, incident=second, status=Status.RESOLVED, resolution="x"
    )
    later = review_services.review_create(organization=org, actor=owner, incident=second)
    assert later.pk > review_id
    item = review_services.action_item_create(
        organization=org, actor=owner, review=later, title="More"
    )
    assert item.pk > max(item_ids)
