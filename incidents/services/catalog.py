"""Writes to the service catalog, and the categories and priority matrix a new
organization starts with."""

from __future__ import annotations

from django.db import transaction

from core import extensions
from core.errors import Conflict
from incidents import priority as priority_defaults
from incidents.models import Category, PriorityRule, Service
from incidents.services.base import check_same_organization
from tenancy import audit, rls

DEFAULT_CATEGORIES = [
    ("software", "Software"),
    ("hardware", "Hardware"),
    ("network", "Network"),
    ("security", "Security"),
    ("service_request", "Service request"),
    ("other", "Other"),
]


def catalog_defaults_create(*, organization) -> None:
    """The default categories and the design's priority matrix."""
    with transaction.atomic():
        rls.add_tenant(organization.pk)
        Category.objects.bulk_create(
            [Category(organization=organization, slug=s, name=n) for s, n in DEFAULT_CATEGORIES],
            ignore_conflicts=True,
        )
        PriorityRule.objects.bulk_create(
            [
                PriorityRule(organization=organization, impact=i, urgency=u, priority=p)
                for (i, u), p in priority_defaults.DEFAULT_MATRIX.items()
            ],
            ignore_conflicts=True,
        )


def priority_for(*, organization, impact: int, urgency: int) -> int:
    rule = PriorityRule.objects.for_org(organization).filter(impact=impact, urgency=urgency).first()
    if rule is not None:
        return rule.priority
    return priority_defaults.DEFAULT_MATRIX[(impact, urgency)]


def priority_matrix(organization) -> dict[tuple[int, int], int]:
    """(impact, urgency) -> priority: the organization's rules over the default matrix."""
    matrix = dict(priority_defaults.DEFAULT_MATRIX)
    matrix.update(
        {
            (impact, urgency): priority
            for impact, urgency, priority in PriorityRule.objects.for_org(organization).values_list(
                "impact", "urgency", "priority"
            )
        }
    )
    return matrix


@rls.in_tenant
def service_create(*, organization, actor, slug: str, name: str, **fields) -> Service:
    """``fields`` may hold the settings other apps keep (:mod:`core.extensions`)."""
    check_same_organization(organization, team=fields.get("team"))
    settings = extensions.split(Service, fields)
    if Service.objects.for_org(organization).filter(slug=slug).exists():
        raise Conflict(f"A service with slug {slug!r} exists already.", field="slug")
    service = Service.objects.create(organization=organization, slug=slug, name=name, **fields)
    audit.record(organization=organization, actor=actor, action="service.created", target=service)
    extensions.write(Service, settings, organization=organization, actor=actor, target=service)
    return service


SERVICE_FIELDS = ("slug", "name", "description", "team", "status")


@rls.in_tenant
def service_update(*, organization, actor, service: Service, **changes) -> Service:
    """``changes`` may hold the settings other apps keep (:mod:`core.extensions`)."""
    check_same_organization(organization, team=changes.get("team"))
    settings = extensions.split(Service, changes)
    if changes:
        conflict = Conflict("A service with that slug exists already.", field="slug")
        audit.save_changes(
            service, changes, organization=organization, actor=actor, conflict=conflict
        )
    extensions.write(Service, settings, organization=organization, actor=actor, target=service)
    return service


@rls.in_tenant
def service_delete(*, organization, actor, service: Service) -> None:
    audit.record(
        organization=organization,
        actor=actor,
        action="service.deleted",
        target=service,
        before=audit.snapshot(service, SERVICE_FIELDS),
    )
    service.delete()
