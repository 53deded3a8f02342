"""The event on-call publishes: ``page.created``, on the stream of the paged incident (see
:mod:`incidents.events`), once per page an escalation step or a responder wrote.

The payload carries the page (``id``, ``recipient`` id and username, ``step``,
``repeat``, ``reason``), the incident as it was then and who paged (``actor``: the
responder, or the system for an escalation step), so a notifier sends without reading
the page again."""

from __future__ import annotations

from events import bus
from incidents import events as incident_events

PAGE_CREATED = bus.define(
    "page.created",
    "Someone was paged for an incident, by an escalation step or by a responder (page).",
)


def page_payload(page) -> dict:
    return {
        "id": page.pk,
        "recipient_id": page.recipient_id,
        "recipient": page.recipient.get_username(),
        "escalation_id": page.escalation_id,
        "step": page.step,
        "repeat": page.repeat,
        "reason": page.reason,
    }


def publish_pages(pages, actor=None) -> None:
    """One ``page.created`` per page (on its incident's stream), in the caller's
    transaction."""
    if pages:
        bus.publish_many(
            [
                incident_events.event(page.incident, PAGE_CREATED, actor, page=page_payload(page))
                for page in pages
            ]
        )
