"""A service's severity map: how its alerts set up the incidents they open."""

from __future__ import annotations

from alerts.models import SeverityMap
from tenancy import audit, rls


@rls.in_tenant
def severity_map_set(*, organization, actor, service, value: dict) -> SeverityMap:
    """Sets the map (validated by the caller's field); an empty one keeps the defaults."""
    levels = value or {}
    row = SeverityMap.objects.for_org(organization).filter(service=service).first()
    if row is None:
        row = SeverityMap.objects.create(organization=organization, service=service, levels=levels)
        audit.record(
            organization=organization,
            actor=actor,
            action="severitymap.created",
            target=row,
            after={"levels": levels},
        )
    elif row.levels != levels:
        audit.save_changes(row, {"levels": levels}, organization=organization, actor=actor)
    service.severity_map = row
    return row
