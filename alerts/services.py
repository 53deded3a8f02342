"""Ingestion: find the integration by its key, store the events, then apply them.

A request does two things. It stores its events as *pending* alerts in a transaction that
commits before the answer, so an accepted event survives a crash right after it (a
re-sent Alertmanager alert is recognised here by its fingerprint and stored once). Then it
has them applied: alerts are applied in arrival order, one transaction at a time per
organization, under the organization's incident-number lock (the one every incident
opening takes anyway). They group onto the open incident of their integration and dedup
key, and new incidents are opened in bulk. Requests of a burst queue on the lock, and
whoever gets it applies every alert pending by then, so most find theirs applied by the
one before and a few transactions carry the burst. The partial unique index of alert
groups (:mod:`alerts.groups`) stays the guarantee that a key has one open incident. Alerts
left pending (a crash between the two steps, a lock wait given up) are applied by the
``alerts.tasks.apply_pending`` sweep. Escalation and notification are left to workers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from alerts import events, groups
from alerts.models import Alert, ChangeEvent, Integration, integration_key
from alerts.parsing import Event, incident_fields
from core.errors import Conflict, DomainError
from incidents import services as incident_services
from incidents.models import Incident
from incidents.states import Status
from tenancy import audit, rls

logger = logging.getLogger(__name__)
KEY_SHAPE = re.compile(r"[0-9A-Za-z_-]{1,64}")
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


def integration_for_key(key: str) -> Integration | None:
    """The active or inactive integration with this key, in a transaction that may then
    read its organization's rows; None when no integration has the key."""
    if not KEY_SHAPE.fullmatch(key):
        return None
    rls.set_integration_key(key)
    # Until the key has named the organization, row-level security lets this transaction
    # see the one integration row and no other tenant row, so the query must not join
    # another tenant table: no default ordering (it sorts by the service's name). The
    # organization comes in the same query (its table has no row-level policy), so
    # opening an incident does not fetch it again.
    integrations = Integration.objects.unscoped().select_related("organization").order_by()
    try:
        integration = integrations.get(key=key)
    except Integration.DoesNotExist:
        return None
    rls.add_tenant(integration.organization_id)
    return integration


def accepts_events(integration: Integration | None) -> bool:
    """Whether events sent with this integration's key are taken: the integration and its
    organization are both active."""
    return integration is not None and integration.is_active and integration.organization.is_active


@dataclass
class Result:
    alert: Alert | None  # None: a repeat of an alert stored before
    incident: Incident | None

    @property
    def duplicate(self) -> bool:
        return self.alert is None


def ingest(integration: Integration, events: Iterable[Event]) -> list[Result]:
    """Stores the events and applies them (the demo, tests). Inside a transaction both
    happen in it; requests commit the store first, see :func:`store` and
    :func:`apply_stored`."""
    events = list(events)
    ids = store(integration, events)
    apply_pending(integration.organization_id)
    return results(integration, events, ids)


def incident_numbers(
    integration: Integration,
    events: list[Event],
    ids: list[int | None],
    applied: dict[int, int | None],
) -> list[int | None]:
    """Per event, the number of the incident it is on: from what this request applied, or
    read back for alerts another request applied and for re-sent alerts (their first copy)."""
    missing = [pk for pk in ids if pk is not None and pk not in applied]
    repeats = _repeats(events, ids)
    found: dict = {}
    if missing or repeats:
        with transaction.atomic():
            rls.add_tenant(integration.organization_id)
            alerts = Alert.objects.for_org(integration.organization_id)
            found.update(alerts.filter(pk__in=missing).values_list("pk", "incident__number"))
            found.update(
                alerts.filter(integration=integration, fingerprint__in=repeats).values_list(
                    "fingerprint", "incident__number"
                )
            )
    return [
        found.get(event.fingerprint) if pk is None else applied.get(pk, found.get(pk))
        for event, pk in zip(events, ids, strict=True)
    ]


def results(integration: Integration, events: list[Event], ids: list[int | None]) -> list[Result]:
    """What became of the events (ids as :func:`store` returned them); a re-sent alert
    names the incident its first copy is on."""
    repeats = _repeats(events, ids)
    with transaction.atomic():
        rls.add_tenant(integration.organization_id)
        alerts = Alert.objects.for_org(integration.organization_id).select_related("incident")
        stored = alerts.in_bulk([pk for pk in ids if pk is not None])
        first_copies = {
            alert.fingerprint: alert.incident
            for alert in alerts.filter(integration=integration, fingerprint__in=repeats)
        }
    return [
        Result(alert=None, incident=first_copies.get(event.fingerprint))
        if pk is None
        else Result(alert=stored[pk], incident=stored[pk].incident)
        for event, pk in zip(events, ids, strict=True)
    ]


# --- Storing ------------------------------------------------------------------------------

_COLUMNS = (
    "organization",
    "integration",
    "action",
    "outcome",
    "dedup_key",
    "fingerprint",
    "summary",
    "severity",
    "source",
    "payload",
    "received_at",
    "title",
    "description",
    "tags",
    "occurred_at",
    "note",
)


def store(integration: Integration, events: Iterable[Event]) -> list[int | None]:
    """Inserts the events as pending alerts with one statement; per event, the new
    alert's id, or None for an alert with a fingerprint already stored (a re-send)."""
    events = list(events)
    if not events:
        return []
    now = timezone.now()
    fields = [Alert._meta.get_field(name) for name in _COLUMNS]
    rows, params = [], []
    for event in events:
        values = {
            "organization": integration.organization_id,
            "integration": integration.pk,
            "action": event.action,
            "outcome": Alert.Outcome.PENDING,
            "dedup_key": event.dedup_key,
            "fingerprint": event.fingerprint,
            "summary": event.summary,
            "severity": event.severity,
            "source": event.source[:255],
            "payload": event.payload,
            "received_at": now,
            "title": event.title,
            "description": event.description,
            "tags": event.tags,
            "occurred_at": event.occurred_at,
            "note": event.note,
        }
        rows.append("(" + ", ".join(["%s"] * len(fields)) + ")")
        params += [field.get_db_prep_save(values[field.name], connection) for field in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    # A re-sent alert (same fingerprint) is skipped by the partial unique index, even when
    # a concurrent request stores the same one at the same moment.
    sql = (
        f"INSERT INTO {quote(Alert._meta.db_table)} ({columns}) VALUES {', '.join(rows)} "  # noqa: S608
        "ON CONFLICT (organization_id, integration_id, fingerprint) WHERE fingerprint > '' "
        "DO NOTHING RETURNING id, fingerprint"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    # Rows come back in the order given (as Django's bulk_create relies on too); the
    # fingerprinted ones that conflicted are missing.
    by_fingerprint = {fingerprint: pk for pk, fingerprint in returned if fingerprint}
    plain = iter(pk for pk, fingerprint in returned if not fingerprint)
    ids = []
    for event in events:
        if not event.fingerprint:
            ids.append(next(plain))
        else:  # a fingerprint twice in one payload is stored once: the second is a repeat
            ids.append(by_fingerprint.pop(event.fingerprint, None))
    return ids


# --- Applying -----------------------------------------------------------------------------


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


def first_copies(integration: Integration, events: list[Event], ids: list[int | None]) -> list[int]:
    """The ids of the alerts that re-sent events (id None) repeat."""
    repeats = _repeats(events, ids)
    if not repeats:
        return []
    with transaction.atomic():
        rls.add_tenant(integration.organization_id)
        alerts = Alert.objects.for_org(integration.organization_id)
        return list(
            alerts.filter(integration=integration, fingerprint__in=repeats).values_list(
                "pk", flat=True
            )
        )


def _repeats(events: list[Event], ids: list[int | None]) -> list[str]:
    return [event.fingerprint for event, pk in zip(events, ids, strict=True) if pk is None]


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
        "service", "organization"
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
    open_incidents = groups.open_incidents(
        organization_id, {(alert.integration_id, alert.dedup_key) for alert in alerts}
    )
    waiting: dict[tuple[int, str], list[Alert]] = {}  # key -> its alerts, the opener first
    grouped_tags: dict[Incident, list[str]] = {}  # an open incident -> its new alerts' tags

    def open_waiting():
        opened = _open_incidents(waiting)
        groups.groups_open(organization_id=organization_id, opened=opened)
        for key, incident in opened.items():
            open_incidents[key] = incident
            for alert in waiting[key]:
                alert.incident = incident
        waiting.clear()

    for alert in alerts:
        key = (alert.integration_id, alert.dedup_key)
        if alert.action == Alert.Action.TRIGGER:
            if key in open_incidents:
                alert.incident, alert.outcome = open_incidents[key], Alert.Outcome.GROUPED
                grouped_tags.setdefault(alert.incident, []).extend(alert.tags)
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
        else:
            alert.incident, alert.outcome = _act(alert, incident)
            if not alert.incident.is_open:
                del open_incidents[key]
    open_waiting()
    incident_services.incidents_add_tags(organization_id=organization_id, tags=grouped_tags)
    Alert.objects.for_org(organization_id).bulk_update(alerts, ["incident", "outcome"])
    events.publish_received(alerts, lambda alert: IntegrationActor(alert.integration))


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


def record_change(integration: Integration, *, summary, source, timestamp, details, links, payload):
    return ChangeEvent.objects.create(
        organization_id=integration.organization_id,
        integration=integration,
        service_id=integration.service_id,
        summary=summary,
        source=source[:255],
        timestamp=timestamp or timezone.now(),
        custom_details=details,
        links=links,
        payload=payload,
    )


# --- Integrations: configured by admins in the admin, the API and the shell ---------------

INTEGRATION_FIELDS = ("name", "is_active", "rate_limit_per_minute")


def _integration_conflict(organization, service, name, exclude=None) -> None:
    others = Integration.objects.for_org(organization).filter(service=service, name=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise Conflict(f"{service.name} has an integration named {name!r} already.", field="name")


@rls.in_tenant
def integration_create(*, organization, actor, service, kind: str, name: str, **fields):
    if service.organization_id != organization.pk:
        raise DomainError("Not found.", field="service")
    _integration_conflict(organization, service, name)
    integration = Integration.objects.create(
        organization=organization, service=service, kind=kind, name=name, **fields
    )
    audit.record(
        organization=organization,
        actor=actor,
        action="integration.created",
        target=integration,
        after={"service": service.slug, "kind": kind, "name": name, **fields},
    )
    return integration


@rls.in_tenant
def integration_update(*, organization, actor, integration: Integration, **changes):
    if "name" in changes:
        _integration_conflict(organization, integration.service, changes["name"], integration)
    return audit.save_changes(integration, changes, organization=organization, actor=actor)


@rls.in_tenant
def integration_regenerate_key(*, organization, actor, integration: Integration):
    """A new key; the old one stops working at once. Neither is written to the audit log."""
    integration.key = integration_key()
    integration.save(update_fields=["key"])
    audit.record(
        organization=organization,
        actor=actor,
        action="integration.key_regenerated",
        target=integration,
        after={"key": integration.masked_key},
    )
    return integration


@rls.in_tenant
def integration_delete(*, organization, actor, integration: Integration) -> None:
    audit.record(
        organization=organization,
        actor=actor,
        action="integration.deleted",
        target=integration,
        before=audit.snapshot(integration, ("kind", *INTEGRATION_FIELDS)),
    )
    integration.delete()
