"""The events post-incident reviews publish, on their incident's stream (see
:mod:`incidents.events`), so a subscriber sees a review published after the incident's
own changes."""

from __future__ import annotations

from events import bus
from incidents import events as incident_events

PUBLISHED = bus.define(
    "review.published", "A post-incident review was published, with its action items."
)

_REVIEW_FIELDS = (
    "summary",
    "impact",
    "root_causes",
    "contributing_factors",
    "lessons",
    "published_at",
)
_ITEM_FIELDS = ("title", "status", "due_date", "external_url")


def review_payload(review) -> dict:
    data = {"id": review.pk, "owner_id": review.owner_id}
    data.update({field: getattr(review, field) for field in _REVIEW_FIELDS})
    data["action_items"] = [
        {
            "id": item.pk,
            "owner_id": item.owner_id,
            **{field: getattr(item, field) for field in _ITEM_FIELDS},
        }
        for item in review.action_items.order_by("pk")
    ]
    return data


def publish_published(review, incident, who) -> None:
    """On the incident's stream; ``incident`` is locked by the caller."""
    incident_events.publish(incident, PUBLISHED, who, review=review_payload(review))
