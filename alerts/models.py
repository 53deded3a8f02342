"""Alerts from monitoring tools and the change events they report, as received.

An alert is one event about a problem (trigger, acknowledge, resolve) sent through an
integration, kept with its raw payload; alerts with the same dedup key group onto one open
incident. An alert is stored *pending* and then applied (its outcome says how). A change
event (a deploy, a config change) is recorded on its service and pages nobody."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from core.text import LineField
from incidents.models import Incident, Integration, Service
from tenancy.models import TenantModel


class Alert(TenantModel):
    class Action(models.TextChoices):
        TRIGGER = "trigger", "Trigger"
        ACKNOWLEDGE = "acknowledge", "Acknowledge"
        RESOLVE = "resolve", "Resolve"
        UPDATE = "update", "Update"  # recorded on the open incident, changes nothing

    class Outcome(models.TextChoices):
        PENDING = "pending", "Stored, not applied yet"
        OPENED = "opened", "Opened an incident"
        GROUPED = "grouped", "Added to an open incident"
        ACKNOWLEDGED = "acknowledged", "Acknowledged the incident"
        RESOLVED = "resolved", "Resolved the incident"
        RECORDED = "recorded", "Recorded on the incident"
        DROPPED = "dropped", "Dropped: no open incident has this key"
        FAILED = "failed", "Failed to apply (see the log)"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    dedup_key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=255,
        blank=True,
        help_text="Identity of an alert its sender re-sends (Alertmanager): a repeat is "
        "recognised and not stored twice.",
    )
    summary = LineField(max_length=1024)
    severity = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(help_text="The event as received.")
    received_at = models.DateTimeField(default=now, editable=False)
    # What the sender said, read from the payload when it was received: the incident the
    # alert opens gets these, and the timeline the note of an acknowledge or resolve.
    title = LineField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "integration", "fingerprint"],
                condition=models.Q(fingerprint__gt=""),
                name="alert_fingerprint",
            )
        ]
        indexes = [
            models.Index(
                fields=["organization", "incident", "-received_at"], name="alert_incident"
            ),
            models.Index(
                fields=["organization", "integration", "-received_at"], name="alert_integration"
            ),
            models.Index(
                fields=["organization", "id"],
                condition=models.Q(outcome="pending"),
                name="alert_pending",
            ),
        ]

    def __str__(self):
        return f"{self.action} {self.dedup_key}: {self.summary}"


class ChangeEvent(TenantModel):
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="change_events"
    )
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="change_events")
    summary = LineField(max_length=1024)
    source = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField(help_text="When the change happened, as its sender says.")
    custom_details = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    payload = models.JSONField(help_text="The event as received.")
    received_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["organization", "service", "-timestamp"], name="change_service")
        ]

    def __str__(self):
        return self.summary
