"""Demo data: an outgoing webhook for each organization's ticketing bridge, turned off
until someone points it at a real receiver, with the deliveries it made on recent
incidents (one tried again after a 503, one the receiver refused)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from django.db import transaction
from rest_framework.renderers import JSONRenderer

from incidents.api.serializers import IncidentSerializer
from incidents.models import Incident
from notifications.models import Attempt, Delivery, Webhook
from notifications.services import webhooks as services
from tenancy import rls

RECENT = 6  # incidents with deliveries


def seed(*, organization, users, stdout) -> None:
    admin = next((user for user in users.values() if user.is_superuser), None)
    webhook, _ = services.webhook_create(
        organization=organization,
        actor=admin,
        name="Ticketing bridge",
        url=f"https://tickets.{organization.slug}.example/hooks/beacon",
        events=["incident.created", "incident.resolved", "incident.status_changed"],
    )
    webhook = services.webhook_update(
        organization=organization, actor=admin, webhook=webhook, is_active=False
    )
    with transaction.atomic():
        rls.add_tenant(organization.pk)
        Webhook.objects.for_org(organization).filter(pk=webhook.pk).update(
            disabled_reason="Demo: point it at your receiver, then turn it on."
        )
        sent = _history(organization, webhook)
    stdout.write(f"{organization.slug}: a webhook (turned off) with {sent} past deliveries")


def _history(organization, webhook) -> int:
    incidents = list(
        Incident.objects.for_org(organization)
        .select_related("category", "service", "team", "assignee", "reporter")
        .order_by("-created_at")[:RECENT]
    )
    deliveries, attempts = [], []
    for index, incident in enumerate(incidents):
        created = incident.created_at + timedelta(seconds=2)
        body = {
            "type": "incident.created",
            "timestamp": incident.created_at.isoformat().replace("+00:00", "Z"),
            "data": {"incident": dict(IncidentSerializer(incident).data)},
        }
        delivery = Delivery(
            organization=organization,
            key=f"demo:{incident.pk}:webhook:{webhook.pk}",
            channel=Delivery.Channel.WEBHOOK,
            webhook=webhook,
            recipient=webhook.name,
            incident=incident,
            event_type="incident.created",
            message_id=f"msg_{uuid.uuid4().hex}",
            payload=_plain(body),
            status=Delivery.Status.DELIVERED,
            created_at=created,
            delivered_at=created,
        )
        answers = [(200, "")]
        if index == 1:  # the receiver was deploying: a 503, then accepted
            answers = [(503, "The endpoint answered 503."), (200, "")]
            delivery.delivered_at = created + timedelta(seconds=41)
        if index == 3:  # a ticket project that no longer exists
            answers = [(404, "The endpoint answered 404.")]
            delivery.status, delivery.delivered_at = Delivery.Status.FAILED, None
            delivery.last_error = answers[-1][1]
        delivery.attempts = len(answers)
        deliveries.append(delivery)
        for number, (status, error) in enumerate(answers, start=1):
            attempts.append(
                Attempt(
                    organization=organization,
                    delivery=delivery,
                    number=number,
                    started_at=created + timedelta(seconds=41 * (number - 1)),
                    duration_ms=180 + 37 * number,
                    status_code=status,
                    error=error,
                    response='{"ok":true}' if status == 200 else "",
                )
            )
    Delivery.objects.bulk_create(deliveries)
    Attempt.objects.bulk_create(attempts)
    return len(deliveries)


def _plain(data):
    """The serializer's output as plain JSON values."""
    return json.loads(JSONRenderer().render(data))
