"""What the person who reported an incident hears about it, by e-mail through the outbox:
that someone is on it (it left ``new``), every public update, and that it is resolved,
with the signed link to confirm the fix or reopen it (:mod:`incidents.services.closure`).

Nothing is sent for what the reporter did themselves, to a reporter without an address
or no longer a member, or about a resolution already undone by the time the event is
handled (its link would open nothing)."""

from __future__ import annotations

import uuid

from django.urls import reverse
from django.utils import timezone

from core import mail
from incidents import events as incident_events
from incidents.models import Incident
from incidents.services import closure_link
from incidents.states import Status
from notifications.models import Delivery
from notifications.services.deliveries import send_after_commit
from tenancy.models import Membership

ON_IT = (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.ON_HOLD)


def _kind(event) -> str | None:
    payload = event.payload
    if event.type == incident_events.UPDATE_POSTED:
        return "update"
    if event.type != incident_events.STATUS_CHANGED:
        return None
    if payload.get("from") == Status.NEW and payload.get("to") in ON_IT:
        return "on_it"
    if payload.get("to") == Status.RESOLVED:
        return "resolved"
    return None


def reporter_mail(event) -> None:
    """Subscriber of ``incident.status_changed`` and ``incident.update_posted``."""
    kind = _kind(event)
    if kind is None:
        return
    incident = (
        Incident.objects.for_org(event.organization_id)
        .select_related("reporter", "organization", "service")
        .filter(pk=event.payload["incident"]["id"])
        .first()
    )
    reporter = incident.reporter if incident is not None else None
    if reporter is None or not reporter.is_active or not reporter.email:
        return
    if event.payload.get("actor", {}).get("user_id") == reporter.pk:
        return  # they know: they did it
    if not Membership.objects.for_org(event.organization_id).filter(user=reporter).exists():
        return
    if kind == "resolved" and incident.status != Status.RESOLVED:
        return
    organization = incident.organization
    context = {
        "incident": incident,
        "organization": organization,
        "reporter": reporter,
        "note": event.payload.get("note", ""),
        "update": event.payload.get("update", {}).get("body", ""),
        "incident_url": mail.absolute_url(
            reverse("incidents:detail", args=[organization.slug, incident.number])
        ),
        "confirm_url": mail.absolute_url(closure_link(incident)) if kind == "resolved" else "",
    }
    subject, text, html = mail.render(f"notifications/email/reporter_{kind}", context)
    Delivery.objects.bulk_create(
        [
            Delivery(
                organization_id=event.organization_id,
                key=f"event:{event.pk}:email:reporter:{reporter.pk}",
                channel=Delivery.Channel.EMAIL,
                recipient=reporter.get_username(),
                incident=incident,
                event_type=event.type,
                message_id=f"msg_{uuid.uuid4().hex}",
                payload={"to": [reporter.email], "subject": subject, "text": text, "html": html},
                next_attempt_at=timezone.now(),
            )
        ],
        ignore_conflicts=True,
    )
    send_after_commit(event.organization_id)
