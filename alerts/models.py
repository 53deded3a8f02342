"""Integrations, the alerts and change events received through them, and alert groups.

An integration is a monitoring tool sending to one service with its own key. An alert is
one event about a problem (trigger, acknowledge, resolve) sent through an integration,
kept with its raw payload. Alerts with the same dedup key make an *alert group*: the
incident they opened and, while that incident is open, the one every further alert with
the key goes to. An alert is stored *pending* and then applied (its outcome says how). A
change event (a deploy, a config change) is recorded on its service and pages nobody."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.timezone import now

from alerts.severities import validate_severity_map
from core.text import LineField
from incidents.models import Incident, Service
from tenancy.models import TenantModel


def integration_key() -> str:
    """32 hexadecimal characters, the shape of a PagerDuty routing key."""
    return secrets.token_hex(16)


class Integration(TenantModel):
    """A monitoring tool sending alerts to one service, identified by its secret key.

    The key is the whole credential (it sits in the tool's configuration, like a
    PagerDuty routing key), so it stays readable to the organization's admins, who need it
    to configure the tool; it is unique across organizations because it names the
    organization too. How each kind is received, answered and set up is in
    :mod:`alerts.kinds`."""

    class Kind(models.TextChoices):
        PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager / Grafana"
        OPSGENIE = "opsgenie", "Opsgenie Alert API"
        GENERIC = "generic", "Generic JSON webhook"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = LineField(max_length=100)
    key = models.CharField(max_length=64, unique=True, default=integration_key, editable=False)
    is_active = models.BooleanField(
        default=True, help_text="Events sent with the key of an inactive integration are refused."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=6000,
        help_text="Requests accepted per minute; more answer 429 so the sender retries later.",
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["service__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "service", "name"], name="integration_service_name"
            )
        ]

    def __str__(self):
        return f"{self.service.name} – {self.name}"

    @property
    def masked_key(self) -> str:
        return f"{self.key[:4]}…{self.key[-4:]}"


class AlertGroup(TenantModel):
    """The incident that alerts of one integration and dedup key opened.

    A group is open while its incident is open (new, acknowledged, in progress, on hold):
    alerts with its key go to that incident. The incident's status changes in the incident
    services, which tell :mod:`alerts.groups` in the same transaction, so ``is_open``
    never lags behind it. The partial unique index lets a key have one open group: two
    identical triggers arriving at once cannot open two incidents, and an old incident
    is not reopened while a newer one has its key. Once the incident is resolved, the next
    trigger with the key opens a new incident and a new group; the old group stays as the
    record of where the old incident came from."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="groups")
    dedup_key = models.CharField(max_length=255)
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="alert_group")
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "integration", "dedup_key"],
                condition=models.Q(is_open=True) & ~models.Q(dedup_key=""),
                name="alert_group_open_key",
            )
        ]

    def __str__(self):
        return f"{self.dedup_key} ({'open' if self.is_open else 'closed'})"


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


class SeverityMap(TenantModel):
    """How alerts of each severity set up the incidents they open on one service, over
    :data:`alerts.severities.DEFAULT_SEVERITY_MAP`; a service without one uses those.
    Shown and changed with the service, as its ``alert_severity_map``."""

    service = models.OneToOneField(
        Service, on_delete=models.CASCADE, primary_key=True, related_name="severity_map"
    )
    levels = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_severity_map],
        help_text="How an alert's severity (critical, error, warning, info) sets a new "
        'incident\'s impact, urgency and severity, e.g. {"warning": {"impact": 2, '
        '"urgency": 2, "severity": "sev3"}}; severities left out keep the defaults.',
    )

    def __str__(self):
        return f"Alert severities of {self.service}"
