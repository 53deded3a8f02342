"""Opening incidents: the gapless per-organization numbering, one incident or a burst of
them, and the tags alert ingestion adds to open ones."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.utils import timezone

from incidents import events, sla_policy
from incidents.models import Category, Incident, IncidentSequence, Service, TimelineEntry
from incidents.services.base import (
    check_member,
    check_same_organization,
    check_times,
    timeline_entry_build,
)
from incidents.services.catalog import priority_matrix
from tenancy import rls


def _next_numbers(organization, count: int = 1) -> range:
    """The next ``count`` numbers, with the sequence row locked until this transaction ends:
    numbers are unique and, since a rolled-back creation rolls the counter back too,
    gapless."""
    sequences = IncidentSequence.objects.for_org(organization)
    if not sequences.update(last_number=F("last_number") + count):
        IncidentSequence.objects.get_or_create(organization=organization)
        sequences.update(last_number=F("last_number") + count)
    last = sequences.values_list("last_number", flat=True).get()
    return range(last - count + 1, last + 1)


def lock_numbering(organization_id: int) -> None:
    """Takes the organization's number sequence and holds it until this transaction ends:
    whoever holds it is the only one opening incidents in the organization."""
    sequence = IncidentSequence.objects.for_org(organization_id).select_for_update()
    if not list(sequence.values_list("pk", flat=True)):
        IncidentSequence.objects.get_or_create(organization_id=organization_id)
        list(sequence.values_list("pk", flat=True))


@rls.in_tenant
def incident_create(
    *,
    organization,
    actor,
    title: str,
    description: str = "",
    category: Category | None = None,
    impact: int = 3,
    urgency: int = 3,
    severity: str = "",
    service: Service | None = None,
    team=None,
    reporter=None,
    source: str = Incident.Source.PORTAL,
    occurred_at: datetime | None = None,
    detected_at: datetime | None = None,
    error_codes=(),
    tags=(),
    dedup_key: str = "",
) -> Incident:
    """Opens an incident."""
    check_member(organization, "reporter", reporter)
    [incident] = incidents_open_many(
        organization=organization,
        actor=actor,
        specs=[
            {
                "title": title,
                "description": description,
                "category": category,
                "impact": impact,
                "urgency": urgency,
                "severity": severity,
                "service": service,
                "team": team,
                "reporter": reporter,
                "source": source,
                "occurred_at": occurred_at,
                "detected_at": detected_at,
                "error_codes": error_codes,
                "tags": tags,
                "dedup_key": dedup_key,
            }
        ],
    )
    return incident


@rls.in_tenant
def incidents_open_many(*, organization, actor, specs: list[dict]) -> list[Incident]:
    """Opens one incident per spec (the keyword arguments of :func:`incident_create`, the
    reporter already checked) with a few statements whatever their number: the matrix and
    the SLA targets are read once, the numbers taken at once, the rows and their "created"
    entries inserted in bulk. Alert ingestion opens a burst of incidents this way."""
    if not specs:
        return []
    matrix = priority_matrix(organization)
    policy = sla_policy.Policy(organization)
    now = timezone.now()
    incidents = []
    for number, spec in zip(_next_numbers(organization, len(specs)), specs, strict=True):
        spec = dict(spec)
        check_times(occurred_at=spec.get("occurred_at"), detected_at=spec.get("detected_at"))
        service = spec.get("service")
        check_same_organization(
            organization,
            category=spec.get("category"),
            service=service,
            team=spec.get("team"),
        )
        if spec.get("team") is None and service is not None:
            spec["team_id"] = service.team_id
            spec.pop("team", None)
        impact, urgency = spec.pop("impact", 3), spec.pop("urgency", 3)
        incident = Incident(
            organization=organization,
            number=number,
            impact=impact,
            urgency=urgency,
            priority=matrix[(impact, urgency)],
            error_codes=list(spec.pop("error_codes", ())),
            tags=list(spec.pop("tags", ())),
            detected_at=spec.pop("detected_at", None) or now,
            **spec,
        )
        sla_policy.start(incident, now, policy)
        incidents.append(incident)
    Incident.objects.bulk_create(incidents)
    TimelineEntry.objects.bulk_create(
        [
            timeline_entry_build(
                incident,
                actor,
                TimelineEntry.Kind.CREATED,
                data={"priority": incident.priority, "source": incident.source},
                is_public=True,
            )
            for incident in incidents
        ]
    )
    events.publish_created(incidents, actor)
    return incidents


TAGS_MAX = 50  # as many as the API accepts on an incident


def tags_union(*tag_lists) -> list[str]:
    """Every tag of the lists once, in the order first seen; at most ``TAGS_MAX``."""
    return list(dict.fromkeys(tag for tags in tag_lists for tag in tags))[:TAGS_MAX]


def incidents_add_tags(*, organization_id: int, tags: dict[Incident, list[str]]) -> None:
    """Adds tags to incidents locked by the caller's transaction (alert ingestion: an
    incident carries the labels of every alert grouped onto it), in one statement."""
    changed = []
    now = timezone.now()
    for incident, new in tags.items():
        merged = tags_union(incident.tags, new)
        if merged != incident.tags:
            incident.tags, incident.updated_at = merged, now
            changed.append(incident)
    Incident.objects.for_org(organization_id).bulk_update(changed, ["tags", "updated_at"])
