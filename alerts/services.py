"""Ingestion: find the integration by its key, then store events and act on incidents.

Everything one request carries is stored in one transaction that commits before the
answer, so an accepted event survives a crash right after it. Alerts group onto the open
incident of their integration and dedup key; the partial unique index
``incident_open_dedup_key`` makes concurrent identical triggers open exactly one (the loser
of the race takes the winner's incident). Escalation and notification are left to workers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from alerts.events import Event, incident_fields
from alerts.models import Alert, ChangeEvent
from core.errors import Conflict, DomainError
from incidents import services as incident_services
from incidents.models import Incident, Integration, integration_key
from incidents.states import Status
from tenancy import audit, rls


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
    if not key or len(key) > 64:
        return None
    rls.set_integration_key(key)
    # The organization comes in the same query (its table has no row-level policy), so
    # opening an incident does not fetch it again.
    integrations = Integration.objects.unscoped().select_related("organization")
    integration = integrations.filter(key=key).first()
    if integration is not None:
        rls.add_tenant(integration.organization_id)
    return integration


@dataclass
class Result:
    alert: Alert | None  # None: a repeat of an alert stored before
    incident: Incident | None

    @property
    def duplicate(self) -> bool:
        return self.alert is None


def ingest(integration: Integration, events: Iterable[Event]) -> list[Result]:
    """Stores the events in order and applies them; runs in the caller's transaction."""
    actor = IntegrationActor(integration)
    return [_ingest_one(integration, actor, event) for event in events]


def _open_incident(integration: Integration, dedup_key: str, *, lock: bool = False):
    incidents = Incident.objects.for_org(integration.organization_id).open()
    if lock:
        incidents = incidents.select_for_update()
    return incidents.filter(integration=integration, dedup_key=dedup_key).first()


def _ingest_one(integration: Integration, actor, event: Event) -> Result:
    if event.fingerprint and _seen(integration, event.fingerprint):
        return Result(alert=None, incident=None)
    incident = _open_incident(integration, event.dedup_key)
    outcome = Alert.Outcome.DROPPED
    if event.action == Alert.Action.TRIGGER:
        if incident is None:
            incident, opened = _open_or_join(integration, actor, event)
            outcome = Alert.Outcome.OPENED if opened else Alert.Outcome.GROUPED
        else:
            outcome = Alert.Outcome.GROUPED
    elif incident is not None and event.action == Alert.Action.UPDATE:
        outcome = Alert.Outcome.RECORDED
    elif incident is not None:
        incident, outcome = _act(integration, actor, incident, event)
    alert = _store(integration, incident, outcome, event)
    return Result(alert=alert, incident=incident)


def _seen(integration: Integration, fingerprint: str) -> bool:
    return (
        Alert.objects.for_org(integration.organization_id)
        .filter(integration=integration, fingerprint=fingerprint)
        .exists()
    )


def _open_or_join(integration: Integration, actor, event: Event) -> tuple[Incident, bool]:
    """Opens the incident for the event's key, or joins the one a concurrent request
    opened first (then the unique index refuses ours and our number is rolled back)."""
    service = integration.service
    try:
        with transaction.atomic():
            incident = incident_services.incident_create(
                organization=integration.organization,
                actor=actor,
                title=event.title,
                description=event.description,
                service=service,
                source=Incident.Source.ALERT,
                occurred_at=event.occurred_at,
                tags=event.tags,
                dedup_key=event.dedup_key,
                integration=integration,
                **incident_fields(service, event.severity),
            )
        return incident, True
    except IntegrityError:
        incident = _open_incident(integration, event.dedup_key)
        if incident is None:  # the winner was resolved meanwhile: open a new one
            return _open_or_join(integration, actor, event)
        return incident, False


def _act(integration, actor, incident: Incident, event: Event) -> tuple[Incident, str]:
    """Acknowledge or resolve the open incident; nothing to do is recorded as such."""
    target = Status.ACKNOWLEDGED if event.action == Alert.Action.ACKNOWLEDGE else Status.RESOLVED
    incident = _open_incident(integration, event.dedup_key, lock=True) or incident
    if target == Status.ACKNOWLEDGED and incident.status != Status.NEW:
        return incident, Alert.Outcome.RECORDED
    if not incident.is_open:
        return incident, Alert.Outcome.DROPPED
    try:
        incident = incident_services.incident_transition(
            organization=integration.organization,
            actor=actor,
            incident=incident,
            status=target,
            note=event.note[:2000],
        )
    except DomainError:
        return incident, Alert.Outcome.RECORDED
    outcome = (
        Alert.Outcome.ACKNOWLEDGED if target == Status.ACKNOWLEDGED else Alert.Outcome.RESOLVED
    )
    return incident, outcome


def _store(integration: Integration, incident, outcome: str, event: Event) -> Alert | None:
    alert = Alert(
        organization_id=integration.organization_id,
        integration=integration,
        incident=incident if outcome != Alert.Outcome.DROPPED else None,
        action=event.action,
        outcome=outcome,
        dedup_key=event.dedup_key,
        fingerprint=event.fingerprint,
        summary=event.summary,
        severity=event.severity,
        source=event.source[:255],
        payload=event.payload,
    )
    if not event.fingerprint:
        alert.save()
        return alert
    try:  # a concurrent copy of the same re-sent alert may have been stored meanwhile
        with transaction.atomic():
            alert.save()
    except IntegrityError:
        return None
    return alert


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
INGESTION_ROUTES = {
    Integration.Kind.PAGERDUTY: ("pagerduty-enqueue", False),  # the key goes in routing_key
    Integration.Kind.ALERTMANAGER: ("alertmanager", True),
    Integration.Kind.GENERIC: ("generic", True),
    Integration.Kind.OPSGENIE: ("opsgenie-create", False),  # Authorization: GenieKey <key>
}


def ingestion_path(integration: Integration) -> str:
    """The path the integration's tool sends its events to."""
    name, keyed = INGESTION_ROUTES[integration.kind]
    return reverse(name, kwargs={"key": integration.key} if keyed else None)


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
    before = audit.snapshot(integration, changes)
    for field, value in changes.items():
        setattr(integration, field, value)
    integration.save(update_fields=list(changes))
    audit.record(
        organization=organization,
        actor=actor,
        action="integration.updated",
        target=integration,
        before=before,
        after=audit.snapshot(integration, changes),
    )
    return integration


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
