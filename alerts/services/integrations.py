"""Integrations: configured by admins in the admin, the API and the shell."""

from __future__ import annotations

import logging

from alerts.models import Integration, integration_key
from core.errors import Conflict, DomainError
from tenancy import audit, rls

logger = logging.getLogger(__name__)


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
