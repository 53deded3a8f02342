"""What every write on an incident shares, here and in the apps above ``incidents``: the
tenant checks, the incident's row lock and the timeline entry written in the same
transaction as the change it records."""

from __future__ import annotations

from core.errors import DomainError
from incidents.models import Incident, TimelineEntry, plausible_time
from tenancy import audit
from tenancy.models import Membership


def timeline_entry_build(
    incident, actor, kind, *, body="", data=None, is_public=False
) -> TimelineEntry:
    """An unsaved timeline entry (for ``bulk_create``)."""
    return TimelineEntry(
        organization_id=incident.organization_id,
        incident=incident,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=audit.actor_label(actor),
        body=body,
        data=data or {},
        is_public=is_public,
    )


def timeline_entry_add(
    incident, actor, kind, *, body="", data=None, is_public=False
) -> TimelineEntry:
    """Appends an entry to the incident's timeline, in the caller's transaction."""
    entry = timeline_entry_build(incident, actor, kind, body=body, data=data, is_public=is_public)
    entry.save()
    return entry


def lock_incident(organization, incident: Incident) -> Incident:
    """The incident read again under a row lock held until the transaction ends."""
    return Incident.objects.for_org(organization).select_for_update().get(pk=incident.pk)


def check_same_organization(organization, **related) -> None:
    for field, value in related.items():
        if (
            value is not None
            and getattr(value, "organization_id", organization.pk) != organization.pk
        ):
            raise DomainError("Not found.", field=field)


def check_times(**times) -> None:
    for field, value in times.items():
        if value is not None and not plausible_time(value):
            raise DomainError("Give a time between 1970 and now.", field=field)


def check_member(organization, field: str, user) -> None:
    """A person named on an incident or a review is a member here, or "not found"."""
    if user is None:
        return
    if not Membership.objects.for_org(organization).filter(user_id=user.pk).exists():
        raise DomainError("Not found.", field=field)
