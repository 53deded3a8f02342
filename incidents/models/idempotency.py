"""The API's Idempotency-Keys on creating POSTs."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from tenancy.models import TenantModel


class IdempotencyKey(TenantModel):
    """A client's Idempotency-Key on a creating POST and the response it got."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    key = models.CharField(max_length=255)
    principal = models.CharField(max_length=100, help_text='"user:<id>" or "key:<id>".')
    request_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    owner_transaction = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="PostgreSQL transaction id of the request that claimed the key while it is "
        "in flight: when that transaction aborted, the key is free again.",
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "principal", "key"], name="idempotency_key_unique"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="idempotency_key_created")
        ]

    def __str__(self):
        return f"{self.principal} {self.key}"
