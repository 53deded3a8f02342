"""What notifications keep: outgoing event webhooks, and the outbox of deliveries.

A :class:`Delivery` is one message to one recipient through one channel, written by the
subscriber that decided to send it, in the transaction that runs the subscriber; its
``key`` (cause, recipient, channel) is unique, so deciding twice writes it once. Sending
records an :class:`Attempt` per try; the database, not the broker, says when a delivery
is due again (``next_attempt_at``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from core.secrets import EncryptedTextField
from core.text import LineField
from incidents.models import Incident
from tenancy.models import TenantModel

MAX_ATTEMPTS = 8  # a delivery's attempts before it fails, unless retried by hand


class Webhook(TenantModel):
    """An external system's endpoint that receives the organization's incident events,
    signed per Standard Webhooks with the webhook's secret."""

    name = LineField(max_length=200)
    url = models.URLField(max_length=2000, help_text="Where events are POSTed (https).")
    events = models.JSONField(default=list, help_text="The event types sent.")
    secret = EncryptedTextField(help_text="whsec_…: the signing secret (encrypted).")
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_until = models.DateTimeField(
        null=True, blank=True, help_text="Until then, messages are signed with both secrets."
    )
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="webhook_name")
        ]

    def __str__(self):
        return self.name


class Delivery(TenantModel):
    """One message to one recipient through one channel (the outbox row)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        EMAIL = "email", "E-mail"

    key = models.CharField(max_length=200, help_text="Cause, recipient and channel.")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    webhook = models.ForeignKey(
        Webhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    recipient = models.CharField(max_length=200, help_text="Whom it was for, by name.")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=60)
    message_id = models.CharField(max_length=64, help_text="The same on every attempt.")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    budget = models.PositiveSmallIntegerField(
        default=MAX_ATTEMPTS, help_text="Attempts it may take."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Last sent to a worker.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="delivery_key")]
        indexes = [
            models.Index(
                fields=["organization", "next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_due",
            ),
            models.Index(fields=["organization", "incident"], name="delivery_incident"),
            models.Index(fields=["organization", "webhook", "-created_at"], name="delivery_hook"),
        ]

    def __str__(self):
        return f"{self.event_type} to {self.recipient}"


class Attempt(TenantModel):
    """One try at sending a delivery, and what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(default=now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response = models.TextField(blank=True, help_text="The start of the answer's body.")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "delivery", "number"], name="attempt_number"
            )
        ]

    def __str__(self):
        return f"{self.delivery} #{self.number}"
