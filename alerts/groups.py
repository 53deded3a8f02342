"""Alert groups: which incident the alerts of an integration and dedup key go to.

A key has at most one open group (the partial unique index ``alert_group_open_key``), and
a group is open exactly while its incident is: :func:`follow_incident` receives every
status change of an incident in the transaction that makes it. Ingestion reads the open
groups of the keys it receives under the organization's incident-number lock
(:mod:`alerts.services`), and opens a group with every incident an alert opens.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from alerts.models import AlertGroup
from core.errors import Conflict
from incidents.models import Incident
from incidents.states import OPEN_STATES


def open_incidents(organization_id: int, keys: Iterable[tuple[int, str]]) -> dict:
    """(integration id, dedup key) -> the open incident of its group, for these keys.

    The open groups are read, then their incidents locked (after the numbering lock,
    like every row ingestion touches), so a person resolving one meanwhile is seen: a
    later trigger then opens a new incident. A burst of new keys reads one index and
    locks nothing."""
    keys = set(keys)
    if not keys:
        return {}
    groups = list(
        AlertGroup.objects.for_org(organization_id)
        .filter(
            is_open=True,
            integration_id__in={integration for integration, _ in keys},
            dedup_key__in={key for _, key in keys},
        )
        .values_list("integration_id", "dedup_key", "incident_id")
    )
    groups = [group for group in groups if group[:2] in keys]
    if not groups:  # a burst of new keys: nothing to lock
        return {}
    # Reading a group takes no lock; whether its incident is still open is decided under
    # the incident's lock (a person's change closes the group in the same transaction).
    incidents = (
        Incident.objects.for_org(organization_id)
        .filter(pk__in=[incident_id for *_, incident_id in groups])
        .select_for_update()
        .in_bulk()
    )
    return {
        (integration_id, dedup_key): incidents[incident_id]
        for integration_id, dedup_key, incident_id in groups
        if incident_id in incidents and incidents[incident_id].is_open
    }


def groups_open(*, organization_id: int, opened: dict[tuple[int, str], Incident]) -> None:
    """Records the groups of incidents just opened for their keys, in one statement; a key
    with an open group already raises IntegrityError."""
    AlertGroup.objects.bulk_create(
        [
            AlertGroup(
                organization_id=organization_id,
                integration_id=integration_id,
                dedup_key=dedup_key,
                incident=incident,
            )
            for (integration_id, dedup_key), incident in opened.items()
        ]
    )


def follow_incident(sender, *, incident: Incident, previous: str, **kwargs) -> None:
    """Keeps the incident's group open while the incident is (``status_changed``).

    Reopening an incident whose key a newer open incident holds is refused: alerts with
    the key would not know which of the two to go to."""
    is_open = incident.status in OPEN_STATES
    if is_open == (previous in OPEN_STATES):
        return
    groups = AlertGroup.objects.for_org(incident.organization_id).filter(incident=incident)
    try:
        with transaction.atomic():
            groups.update(is_open=is_open)
    except IntegrityError:
        group = groups.get()
        holder = (
            AlertGroup.objects.for_org(incident.organization_id)
            .filter(is_open=True, integration_id=group.integration_id, dedup_key=group.dedup_key)
            .values_list("incident__number", flat=True)
            .first()
        )
        raise Conflict(
            f"INC-{holder} is open for the same alert (dedup key {group.dedup_key!r}); "
            "work on that one instead.",
            field="status",
        ) from None
