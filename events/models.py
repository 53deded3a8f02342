"""The outbox: what happened in an organization, for machines, and who has acted on it."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.timezone import now

from tenancy.models import Organization, TenantModel

# Without a database-level foreign key to the organization: every change of an incident
# writes events, and the key's check locks the organization's row in each of those
# transactions; under a burst of single alerts that cost a third of the throughput
# (`make bench`). The rows still go with their organization (Django cascades the delete),
# and row-level security checks the organization of every row anyway.


def _organization() -> models.ForeignKey:
    # No index of its own either: every index of these tables leads with it already.
    return models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )


class Event(TenantModel):
    """A typed event, written in the transaction of the change it reports.

    The payload carries what a subscriber needs to act without reading the change again.
    Events of one ``stream`` (``incident:<id>``) reach each subscriber in ``id`` order.
    ``completed_at`` is set once every subscriber that wants the type has run.
    """

    id = models.BigAutoField(primary_key=True)
    organization = _organization()
    type = models.CharField(max_length=64)
    stream = models.CharField(max_length=100)
    payload = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    occurred_at = models.DateTimeField(default=now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # How often the sweep has sent it again, and when last: it backs off a failing event.
    redispatches = models.PositiveIntegerField(default=0, editable=False)
    redispatched_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["organization", "stream", "id"], name="event_stream"),
            models.Index(
                fields=["organization", "id"],
                condition=models.Q(completed_at__isnull=True),
                name="event_pending",
            ),
            models.Index(fields=["organization", "occurred_at"], name="event_occurred"),
        ]

    def __str__(self):
        return f"{self.type} #{self.pk} ({self.stream})"


class Delivery(TenantModel):
    """One subscriber has run to completion for one event, in the same transaction as its
    effects; the unique pair is what makes a second run of the same delivery impossible."""

    organization = _organization()
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.CharField(max_length=100)
    delivered_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "event", "subscriber"], name="event_delivery_once"
            )
        ]

    def __str__(self):
        return f"{self.subscriber} ← {self.event_id}"
