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

from django.db import connection, transaction
from django.utils import timezone

from alerts.models import Alert, ChangeEvent, Integration
from alerts.parsing import Event
from alerts.services.applying import apply_pending
from incidents.models import Incident
from tenancy import rls

logger = logging.getLogger(__name__)

KEY_SHAPE = re.compile(r"[0-9A-Za-z_-]{1,64}")


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
