"""Writes to post-incident reviews and their action items. Each names the organization
and the actor, runs in one transaction and records what it changed in the audit log; a
published review is the record and stays as it was published."""

from __future__ import annotations

from datetime import UTC

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError
from incidents import timeline
from incidents.models import Incident, TimelineEntry
from incidents.services import (
    check_member,
    check_same_organization,
    lock_incident,
    timeline_entry_add,
)
from incidents.states import Status
from reviews import events
from reviews.models import ActionItem, PostIncidentReview
from tenancy import audit, rls

REVIEWABLE = (Status.RESOLVED, Status.CLOSED)
REVIEW_FIELDS = (
    "summary",
    "impact",
    "root_causes",
    "contributing_factors",
    "lessons",
    "timeline_summary",
    "owner",
    "status",
)
ACTION_ITEM_FIELDS = ("title", "owner", "due_date", "status", "external_url")
# A published review is the record of what was learned: its text, owner and status stay as
# published, and its action items are neither added nor removed. The items are still worked
# on, so what tracking them needs keeps changing.
ACTION_ITEM_TRACKING_FIELDS = ("owner", "due_date", "status", "external_url")
PUBLISHED_REVIEW_IS_READ_ONLY = (
    "The review is published and can no longer be changed. Its action items' status, "
    "owner, due date and tracking link can still be updated."
)
TIMELINE_TEXT_MAX = 200


def _one_line(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= TIMELINE_TEXT_MAX else text[: TIMELINE_TEXT_MAX - 1] + "…"


def _what_happened(entry: TimelineEntry, names: dict[str, str]) -> str:
    if entry.is_public:
        line = timeline.describe(entry, names=names, zone=UTC)
        if entry.body.strip():
            line = f"{line}: {_one_line(entry.body)}"
    else:
        # Stakeholders may read reviews: internal entries say what kind of thing happened,
        # not what they contain.
        line = f"{timeline.outline(entry)} (internal)"
    return line[:1].upper() + line[1:]


def review_timeline_summary(organization, incident: Incident) -> str:
    """One line per timeline entry: UTC time, actor, what happened."""
    entries = list(
        TimelineEntry.objects.for_org(organization)
        .filter(incident=incident)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    names = timeline.people_names(organization, entries)
    return "\n".join(
        f"{entry.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC — "
        f"{timeline.actor_name(entry)} — {_what_happened(entry, names)}"
        for entry in entries
    )


def _review_prefill(organization, incident: Incident) -> dict[str, str]:
    summary = f"{incident.reference}: {incident.title}"
    if incident.resolution.strip():
        summary += f"\n\nResolution: {incident.resolution.strip()}"
    impact = [
        f"Impact: {incident.get_impact_display()}",
        f"Urgency: {incident.get_urgency_display()}",
        f"Priority: {incident.get_priority_display()}",
    ]
    if incident.severity:
        impact.append(f"Severity: {incident.get_severity_display()}")
    if incident.service_id:
        impact.append(f"Service: {incident.service.name}")
    return {
        "summary": summary,
        "impact": "\n".join(impact),
        "root_causes": incident.root_cause,
        "timeline_summary": review_timeline_summary(organization, incident),
    }


@rls.in_tenant
def review_create(*, organization, actor, incident: Incident) -> PostIncidentReview:
    """Starts the review of a resolved or closed incident, pre-filled from it."""
    check_same_organization(organization, incident=incident)
    incident = lock_incident(organization, incident)
    if incident.status not in REVIEWABLE:
        raise Conflict(
            f"{incident.reference} is {incident.get_status_display().lower()}: only resolved "
            "or closed incidents are reviewed.",
            field="incident",
            code="not_resolved",
        )
    if PostIncidentReview.objects.for_org(organization).filter(incident=incident).exists():
        raise Conflict(
            f"{incident.reference} has a review already.", field="incident", code="review_exists"
        )
    try:
        with transaction.atomic():
            review = PostIncidentReview.objects.create(
                organization=organization,
                incident=incident,
                created_by=actor if getattr(actor, "pk", None) else None,
                **_review_prefill(organization, incident),
            )
    except IntegrityError as exc:
        raise Conflict(
            f"{incident.reference} has a review already.", field="incident", code="review_exists"
        ) from exc
    audit.record(organization=organization, actor=actor, action="review.created", target=review)
    return review


def _locked_review(organization, review_id: int) -> PostIncidentReview:
    return (
        PostIncidentReview.objects.for_org(organization)
        .select_for_update()
        .select_related("incident")
        .get(pk=review_id)
    )


def _check_not_published(review: PostIncidentReview, message: str) -> None:
    if review.status == PostIncidentReview.State.PUBLISHED:
        raise Conflict(message, code="published")


@rls.in_tenant
def review_update(*, organization, actor, review: PostIncidentReview, **changes):
    """Changes the review's text, owner, or moves it between draft and in review; a
    published review is the record and stays as it was published."""
    unknown = set(changes) - set(REVIEW_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    check_same_organization(organization, review=review)
    check_member(organization, "owner", changes.get("owner"))
    review = _locked_review(organization, review.pk)
    changed = {field: value for field, value in changes.items() if getattr(review, field) != value}
    if not changed:
        return review
    _check_not_published(review, PUBLISHED_REVIEW_IS_READ_ONLY)
    if changed.get("status") == PostIncidentReview.State.PUBLISHED:
        raise DomainError("Publish the review to publish it.", field="status")
    review.updated_at = timezone.now()
    return audit.save_changes(
        review, changed, organization=organization, actor=actor, touched=("updated_at",)
    )


@rls.in_tenant
def review_publish(*, organization, actor, review: PostIncidentReview) -> PostIncidentReview:
    check_same_organization(organization, review=review)
    # The incident first, as every change of it does: its events keep their order.
    incident = lock_incident(organization, review.incident)
    review = _locked_review(organization, review.pk)
    if review.status == PostIncidentReview.State.PUBLISHED:
        raise Conflict("The review is published already.", field="status", code="published")
    before = review.status
    review.status = PostIncidentReview.State.PUBLISHED
    review.published_at = review.updated_at = timezone.now()
    review.save(update_fields=["status", "published_at", "updated_at"])
    timeline_entry_add(
        review.incident,
        actor,
        TimelineEntry.Kind.REVIEW_PUBLISHED,
        data={"review": review.pk},
    )
    events.publish_published(review, incident, actor)
    audit.record(
        organization=organization,
        actor=actor,
        action="review.published",
        target=review,
        before={"status": before},
        after={"status": review.status},
    )
    return review


def _check_action_item(organization, fields: dict) -> None:
    if "title" in fields and not (fields["title"] or "").strip():
        raise DomainError("Give the action item a title.", field="title")
    if "status" in fields and fields["status"] not in ActionItem.State.values:
        raise DomainError("Unknown status.", field="status")
    check_member(organization, "owner", fields.get("owner"))


@rls.in_tenant
def action_item_create(
    *,
    organization,
    actor,
    review: PostIncidentReview,
    title: str,
    owner=None,
    due_date=None,
    status: str = ActionItem.State.OPEN,
    external_url: str = "",
) -> ActionItem:
    check_same_organization(organization, review=review)
    _check_action_item(organization, {"title": title, "status": status, "owner": owner})
    _check_not_published(
        _locked_review(organization, review.pk),
        "The review is published: its action items are tracked, not added. "
        "Record a new follow-up where your team tracks work.",
    )
    item = ActionItem.objects.create(
        organization=organization,
        review=review,
        title=title.strip(),
        owner=owner,
        due_date=due_date,
        status=status,
        external_url=external_url or "",
    )
    audit.record(
        organization=organization,
        actor=actor,
        action="actionitem.created",
        target=item,
        after={"review": review.pk, **audit.snapshot(item, ACTION_ITEM_FIELDS)},
    )
    return item


@rls.in_tenant
def action_item_update(*, organization, actor, item: ActionItem, **changes) -> ActionItem:
    """Changes an action item. Once its review is published only what tracking the work
    needs changes (status, owner, due date, tracking link); the title stays as published."""
    unknown = set(changes) - set(ACTION_ITEM_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    check_same_organization(organization, item=item)
    _check_action_item(organization, changes)
    if "title" in changes:
        changes["title"] = changes["title"].strip()
    if changes.get("external_url") is None and "external_url" in changes:
        changes["external_url"] = ""
    review = _locked_review(organization, item.review_id)
    item = ActionItem.objects.for_org(organization).select_for_update().get(pk=item.pk)
    changed = {field: value for field, value in changes.items() if getattr(item, field) != value}
    if set(changed) - set(ACTION_ITEM_TRACKING_FIELDS):
        _check_not_published(
            review,
            "The review is published: an action item's title stays as published; its "
            "status, owner, due date and tracking link can still change.",
        )
    if not changed:
        return item
    return audit.save_changes(item, changed, organization=organization, actor=actor)


@rls.in_tenant
def action_item_delete(*, organization, actor, item: ActionItem) -> None:
    check_same_organization(organization, item=item)
    _check_not_published(
        _locked_review(organization, item.review_id),
        "The review is published: its action items stay on it. Set an item's status to "
        "“Won't do” instead.",
    )
    item = ActionItem.objects.for_org(organization).select_for_update().get(pk=item.pk)
    audit.record(
        organization=organization,
        actor=actor,
        action="actionitem.deleted",
        target=item,
        before={"review": item.review_id, **audit.snapshot(item, ACTION_ITEM_FIELDS)},
    )
    ActionItem.objects.for_org(organization).filter(pk=item.pk).delete()
