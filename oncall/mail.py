"""The page e-mail: a subscriber of ``page.created`` mails the recipient the incident and
a one-click acknowledgement link (:mod:`oncall.services.links`).

It runs once per event (the event bus records the run in the transaction that queues
the message, which leaves only after that commit), so an event delivered again mails
nobody twice; a page already closed by the time it runs is not mailed at all."""

from __future__ import annotations

from django.urls import reverse

from core import mail
from oncall.models import Page
from oncall.services.links import page_link


def page_mail(event) -> None:
    page = (
        Page.objects.for_org(event.organization_id)
        .select_related("recipient", "incident__organization", "incident__service")
        .filter(pk=event.payload["page"]["id"])
        .first()
    )
    if page is None or page.status != Page.Status.OPEN or not page.recipient.email:
        return
    incident = page.incident
    context = {
        "page": page,
        "incident": incident,
        "organization": incident.organization,
        "link": mail.absolute_url(page_link(page)),
        "incident_url": mail.absolute_url(
            reverse(
                "incidents:detail",
                kwargs={"org": incident.organization.slug, "number": incident.number},
            )
        ),
    }
    mail.send_after_commit("oncall/email/page", context, to=[page.recipient.email])
