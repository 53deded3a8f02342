"""Applying stored alerts to incidents: in arrival order, one transaction at a time per
organization, under its incident-number lock; see :mod:`alerts.services.ingestion`."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, connection, transaction

from alerts import events, groups
from alerts.models import Alert, Integration
from alerts.severities import incident_fields
from core.errors import DomainError
from events import bus
from incidents import services as incident_services
from incidents.models import Incident
from incidents.states import Status
from tenancy import rls

logger = logging.getLogger(__name__)

APPLY_BATCH = 500
APPLY_WAIT = 10.0  # seconds a request waits for its alerts to be applied


class IntegrationActor:
    """Who the timeline names for what an integration's alerts did."""

    pk = None
    is_authenticated = False

    def __init__(self, integration: Integration):
        self.integration = integration

    def get_username(self) -> str:
        return f"{self.integration.name} ({self.integration.get_kind_display()})"


def apply_pending(organization_id: int, *, wait: float | None = None) -> dict[int, int | None]:
    """Applies the organization's pending alerts in arrival order under its incident-number
    lock; returns, per alert applied, the number of the incident it is on (None when on
    none). With ``wait`` (seconds), gives up when the lock is not free by then: whoever
    holds it applies them."""
    return _apply_locked(organization_id, lock_timeout=wait)


def apply_stored(organization_id: int, ids: Iterable[int | None]) -> dict[int, int | None]:
    """What a request does once its alerts are stored: wait for the lock (at most
    ``APPLY_WAIT`` seconds), then apply whatever is pending, its own alerts and those of
    the requests that arrived meanwhile, and stop once its own are applied. Requests of a
    burst queue on the lock, and each finds most of its alerts applied by the one before
    it, so a few transactions carry the burst. Past the wait it answers anyway; the next
    request or the sweep applies what is left."""
    mine = {pk for pk in ids if pk is not None}
    if not mine:
        return {}
    return _apply_locked(organization_id, lock_timeout=APPLY_WAIT, until=mine)


# Errors of the moment, not of the alert: the alert stays pending and is applied later.
TRANSIENT = (OperationalError, InterfaceError, SoftTimeLimitExceeded)


def _apply_locked(
    organization_id: int, *, lock_timeout: float | None, until: set[int] | None = None
) -> dict[int, int | None]:
    """Applies pending alerts in batches, each in a transaction holding the lock, until none
    is left or, with ``until``, those alerts are applied. A batch that fails is retried
    alert by alert; an alert that fails on its own is marked failed instead of blocking
    the rest. Transient errors (a lock timeout, a lost connection) leave alerts pending."""
    applied: dict[int, int | None] = {}
    while True:
        batch: list[Alert] = []
        try:
            with transaction.atomic():
                _begin_applying(organization_id, lock_timeout)
                batch = _pending(organization_id, APPLY_BATCH)
                _apply(organization_id, batch)
        except TRANSIENT:
            logger.warning("Alerts of organization %s are left pending", organization_id)
            return applied
        except Exception:
            logger.exception("Applying alerts of organization %s failed", organization_id)
            applied |= _apply_one_by_one(organization_id, [alert.pk for alert in batch])
        else:
            applied.update((a.pk, a.incident and a.incident.number) for a in batch)
        if not batch or (until is not None and until <= applied.keys()):
            return applied


def _begin_applying(organization_id: int, lock_timeout: float | None) -> None:
    rls.add_tenant(organization_id)
    if lock_timeout is not None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{lock_timeout}s"])
    incident_services.lock_numbering(organization_id)


# The columns applying needs; the payload stays in the database.
_APPLY_FIELDS = (
    "organization_id",
    "integration_id",
    "incident_id",
    "action",
    "outcome",
    "dedup_key",
    "summary",
    "severity",
    "title",
    "description",
    "tags",
    "occurred_at",
    "note",
    "source",
    "received_at",
)


def _pending(organization_id: int, limit: int, pk: int | None = None) -> list[Alert]:
    alerts = Alert.objects.for_org(organization_id).filter(outcome=Alert.Outcome.PENDING)
    if pk is not None:
        alerts = alerts.filter(pk=pk)
    alerts = list(alerts.only(*_APPLY_FIELDS).order_by("id")[:limit])
    integrations = Integration.objects.for_org(organization_id).select_related(
        "service__severity_map", "organization"
    )
    by_id = integrations.in_bulk({alert.integration_id for alert in alerts})
    for alert in alerts:
        alert.integration = by_id[alert.integration_id]
    return alerts


def _apply_one_by_one(organization_id: int, ids: list[int]) -> dict[int, int | None]:
    """The alerts of a failed batch, each in its own transaction."""
    applied: dict[int, int | None] = {}
    for pk in ids:
        with transaction.atomic():
            _begin_applying(organization_id, None)
            alerts = _pending(organization_id, 1, pk=pk)
            if not alerts:
                continue  # applied meanwhile
            alert = alerts[0]
            try:
                with transaction.atomic():
                    _apply(organization_id, alerts)
            except TRANSIENT:
                raise
            except Exception:
                logger.exception("Alert %s could not be applied", alert.pk)
                Alert.objects.for_org(organization_id).filter(pk=alert.pk).update(
                    outcome=Alert.Outcome.FAILED
                )
                alert.incident = None
        applied[alert.pk] = alert.incident and alert.incident.number
    return applied


def _apply(organization_id: int, alerts: list[Alert]) -> None:
    """Walks the alerts in order; triggers for keys with no open incident are collected and
    their incidents opened together, just before an alert needs one of them."""
    if not alerts:
        return
    with bus.collect():  # the batch's events in one statement, in the order applied
        _apply_in_order(organization_id, alerts)


def _apply_in_order(organization_id: int, alerts: list[Alert]) -> None:
    open_incidents = groups.open_incidents(
        organization_id, {(alert.integration_id, alert.dedup_key) for alert in alerts}
    )
    waiting: dict[tuple[int, str], list[Alert]] = {}  # key -> its alerts, the opener first
    grouped_tags: dict[Incident, list[str]] = {}  # an open incident -> its new alerts' tags

    def received(*applied: Alert) -> None:
        """``alert.received`` once an alert's effect is applied, in the order applied."""
        events.publish_received(applied, lambda alert: IntegrationActor(alert.integration))

    def open_waiting():
        opened = _open_incidents(waiting)
        groups.groups_open(organization_id=organization_id, opened=opened)
        for key, incident in opened.items():
            open_incidents[key] = incident
            for alert in waiting[key]:
                alert.incident = incident
            received(*waiting[key])
        waiting.clear()

    for alert in alerts:
        key = (alert.integration_id, alert.dedup_key)
        if alert.action == Alert.Action.TRIGGER:
            if key in open_incidents:
                alert.incident, alert.outcome = open_incidents[key], Alert.Outcome.GROUPED
                grouped_tags.setdefault(alert.incident, []).extend(alert.tags)
                received(alert)
            elif key in waiting:
                waiting[key].append(alert)
                alert.outcome = Alert.Outcome.GROUPED
            else:
                waiting[key] = [alert]
                alert.outcome = Alert.Outcome.OPENED
            continue
        if key in waiting:
            open_waiting()
        incident = open_incidents.get(key)
        if incident is None:
            alert.outcome = Alert.Outcome.DROPPED
        elif alert.action == Alert.Action.UPDATE:
            alert.incident, alert.outcome = incident, Alert.Outcome.RECORDED
            received(alert)
        else:
            alert.incident, alert.outcome = _act(alert, incident)
            received(alert)
            if alert.incident.is_open:
                open_incidents[key] = alert.incident  # as the transition left it
            else:
                del open_incidents[key]
    open_waiting()
    incident_services.incidents_add_tags(organization_id=organization_id, tags=grouped_tags)
    Alert.objects.for_org(organization_id).bulk_update(alerts, ["incident", "outcome"])


def _open_incidents(waiting: dict[tuple[int, str], list[Alert]]) -> dict:
    """Opens one incident per waiting key, in bulk per integration."""
    openers: dict[int, list[Alert]] = {}
    for alerts in waiting.values():
        openers.setdefault(alerts[0].integration_id, []).append(alerts[0])
    opened = {}
    for batch in openers.values():
        integration = batch[0].integration
        service = integration.service
        incidents = incident_services.incidents_open_many(
            organization=integration.organization,
            actor=IntegrationActor(integration),
            specs=[
                {
                    "title": alert.title or alert.summary[:200],
                    "description": alert.description,
                    "service": service,
                    "source": Incident.Source.ALERT,
                    "occurred_at": alert.occurred_at,
                    # The labels of every alert of the group so far, not only the first's.
                    "tags": incident_services.tags_union(
                        *(
                            grouped.tags
                            for grouped in waiting[(alert.integration_id, alert.dedup_key)]
                        )
                    ),
                    "dedup_key": alert.dedup_key,
                    **incident_fields(service, alert.severity or "warning"),
                }
                for alert in batch
            ],
        )
        for alert, incident in zip(batch, incidents, strict=True):
            opened[(alert.integration_id, alert.dedup_key)] = incident
    return opened


def _act(alert: Alert, incident: Incident) -> tuple[Incident, str]:
    """Acknowledge or resolve the open incident; nothing to do is recorded as such."""
    target = Status.ACKNOWLEDGED if alert.action == Alert.Action.ACKNOWLEDGE else Status.RESOLVED
    if target == Status.ACKNOWLEDGED and incident.status != Status.NEW:
        return incident, Alert.Outcome.RECORDED
    try:
        incident = incident_services.incident_transition(
            organization=alert.integration.organization,
            actor=IntegrationActor(alert.integration),
            incident=incident,
            status=target,
            note=alert.note[:2000],
        )
    except DomainError:  # a person moved it meanwhile: the alert changes nothing
        incident.refresh_from_db(fields=["status"])
        return incident, Alert.Outcome.RECORDED
    if target == Status.ACKNOWLEDGED:
        return incident, Alert.Outcome.ACKNOWLEDGED
    return incident, Alert.Outcome.RESOLVED
