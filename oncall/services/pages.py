"""Pages: writing them (for an escalation step or by a responder) and acknowledging one.

Every page is written with its timeline entry (``notification``, naming the recipient)
and its ``page.created`` event in the transaction that decided it, so the e-mail and any
other notifier follow from the event after commit. An escalation's pages are unique per
(escalation, step, repeat, recipient): writing them again finds them and writes nothing.
"""

from __future__ import annotations

import dataclasses

from django.db.models import Q
from django.utils import timezone

from core.errors import Conflict, DomainError, Forbidden
from incidents.models import Incident, TimelineEntry
from incidents.services import lock_incident, timeline_entry_build, transition_locked
from incidents.states import Status
from oncall import events, metrics, targets
from oncall.models import Page
from tenancy import audit, rls

PAGEABLE = (Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.ON_HOLD)


@dataclasses.dataclass(frozen=True)
class PageRequest:
    """Who to page for an incident: (user, reason) pairs, for an escalation's step and
    repeat or (no escalation) by a responder."""

    incident: Incident
    recipients: list[tuple]
    escalation: object = None
    step: int | None = None
    repeat: int | None = None


def pages_write(
    incident: Incident,
    recipients: list[tuple],
    *,
    escalation=None,
    step: int | None = None,
    repeat: int | None = None,
    sent_by=None,
) -> list[Page]:
    """Writes a page per (user, reason) not paged yet for this escalation step, with its
    timeline entry and event; returns the pages it wrote."""
    request = PageRequest(incident, recipients, escalation, step, repeat)
    return pages_write_many([request], sent_by=sent_by)


def _not_paged_yet(requests: list[PageRequest]) -> list[tuple[PageRequest, object, str]]:
    """(request, user, reason) for each recipient its escalation step has not paged."""
    steps = {
        (request.escalation.pk, request.step, request.repeat)
        for request in requests
        if request.escalation and request.recipients
    }
    already = set()
    if steps:
        wanted = Q()
        for escalation_id, step, repeat in steps:
            wanted |= Q(escalation_id=escalation_id, step=step, repeat=repeat)
        already = set(
            Page.objects.for_org(requests[0].incident.organization_id)
            .filter(wanted)
            .values_list("escalation_id", "step", "repeat", "recipient_id")
        )
    return [
        (request, user, reason)
        for request in requests
        for user, reason in request.recipients
        if request.escalation is None
        or (request.escalation.pk, request.step, request.repeat, user.pk) not in already
    ]


def pages_write_many(
    requests: list[PageRequest], *, extra_entries=(), sent_by=None, at=None
) -> list[Page]:
    """Writes the pages of many requests (one organization's) with a statement per table:
    the pages (sent ``at``: the escalation's clock, else now), their timeline entries (and
    ``extra_entries``, unsaved timeline entries the caller writes with them) and their
    events; returns the pages written."""
    wanted = _not_paged_yet(requests) if requests else []
    now = at or timezone.now()
    sender = sent_by if getattr(sent_by, "pk", None) else None
    rows = [
        Page(
            organization_id=request.incident.organization_id,
            incident=request.incident,
            escalation=request.escalation,
            step=request.step,
            repeat=request.repeat,
            recipient=user,
            reason=reason[:200],
            sent_by=sender,
            created_at=now,
        )
        for request, user, reason in wanted
    ]
    # An escalation's pages are written only by whoever holds its row lock (the tick, an
    # escalation by hand), so the check above cannot be raced: the rows go in as they
    # are, ids returned. The unique constraint stays the last word.
    pages = Page.objects.bulk_create(rows) if rows else []
    entries = [
        timeline_entry_build(
            page.incident,
            sent_by,
            TimelineEntry.Kind.NOTIFICATION,
            body=f"Paged {page.recipient.get_username()}: {page.reason}",
            data={
                "page": page.pk,
                "recipient": page.recipient.get_username(),
                "step": page.step,
                "repeat": page.repeat,
            },
        )
        for page in pages
    ]
    entries.extend(extra_entries)
    if entries:
        TimelineEntry.objects.bulk_create(entries)
    events.publish_pages(pages, sent_by)
    if pages:
        metrics.count_after_commit(pages=len(pages))
    return pages


def _target_of(*, user=None, team=None, schedule=None) -> tuple[str, dict]:
    given = [
        (kind, value)
        for kind, value in (("user", user), ("team", team), ("schedule", schedule))
        if value is not None
    ]
    if len(given) != 1:
        raise DomainError("Name one user, team or schedule to page.", field="non_field_errors")
    kind, value = given[0]
    name = value.get_username() if kind == "user" else value.name
    return kind, {"kind": kind, "id": value.pk, "name": name}


@rls.in_tenant
def page_someone(
    *, organization, actor, incident: Incident, user=None, team=None, schedule=None
) -> list[Page]:
    """A responder pages a person, a team's members or a schedule's on-call people."""
    kind, target = _target_of(user=user, team=team, schedule=schedule)
    incident = lock_incident(organization, incident)
    if incident.status not in PAGEABLE:
        raise Conflict(f"The incident is {incident.status}: nobody is paged for it.")
    found = targets.resolve(organization, target, timezone.now())
    if not found.people:
        raise DomainError(f"{kind.capitalize()} {target['name']} {found.why}.", field=kind)
    people = found.people
    reason = f"Paged by {audit.actor_label(actor)}: {kind} {target['name']}"
    return pages_write(incident, [(person, reason) for person in people], sent_by=actor)


@rls.in_tenant
def page_acknowledge(*, organization, actor, page: Page) -> Page:
    """The recipient acknowledges their page: the page, and the incident if nobody has
    yet (which stops its escalation and closes the other pages). Acknowledging twice
    changes nothing; a page closed because someone else acknowledged is a conflict."""
    if page.recipient_id != getattr(actor, "pk", None):
        raise Forbidden("Only the person paged acknowledges a page.", field="page")
    if not actor.is_active or not actor.has_perm("incidents.change_incident", organization):
        # Someone who left the organization, or whose role no longer responds.
        raise Forbidden("Only a responder of this organization acknowledges.", field="page")
    incident = lock_incident(organization, page.incident)
    page = Page.objects.for_org(organization).select_related("recipient").get(pk=page.pk)
    if page.status == Page.Status.ACKNOWLEDGED:
        return page
    if page.status == Page.Status.CLOSED:
        raise Conflict("This page is closed: the incident was acknowledged or resolved.")
    page.status = Page.Status.ACKNOWLEDGED
    page.acknowledged_at = timezone.now()
    page.save(update_fields=["status", "acknowledged_at"])
    if incident.status == Status.NEW:
        transition_locked(actor, incident, Status.ACKNOWLEDGED, note="Acknowledged from a page.")
    return page


def pages_close(incident: Incident) -> int:
    """Closes the incident's open pages (its escalation ended)."""
    return (
        Page.objects.for_org(incident.organization_id)
        .filter(incident=incident, status=Page.Status.OPEN)
        .update(status=Page.Status.CLOSED)
    )


def pages_acknowledged_by(*, organization_id: int, incident_id: int, user_id: int, at) -> int:
    """Marks acknowledged the pages of the person who acknowledged the incident (they
    were closed with the others when the escalation stopped)."""
    return (
        Page.objects.for_org(organization_id)
        .filter(incident_id=incident_id, recipient_id=user_id)
        .filter(Q(status=Page.Status.OPEN) | Q(status=Page.Status.CLOSED, acknowledged_at=None))
        .update(status=Page.Status.ACKNOWLEDGED, acknowledged_at=at)
    )


def pages_follow_acknowledgement(event) -> None:
    """Subscriber of ``incident.status_changed``: the person who took the incident out of
    ``new`` (acknowledged it, or started work on it) acknowledged their own pages."""
    payload = event.payload
    user_id = payload.get("actor", {}).get("user_id")
    if payload.get("from") != Status.NEW or user_id is None:
        return
    if payload.get("to") not in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.ON_HOLD):
        return
    pages_acknowledged_by(
        organization_id=event.organization_id,
        incident_id=payload["incident"]["id"],
        user_id=user_id,
        at=event.occurred_at,
    )
