"""What a new organization starts with in the incident record."""

from __future__ import annotations

from django.db import transaction

from incidents import sla_policy
from incidents.models import IncidentSequence, IncidentSettings
from incidents.services.catalog import catalog_defaults_create
from tenancy import rls


def organization_defaults_create(*, organization) -> None:
    """Categories, the design's priority matrix, the number sequence, the closure settings
    and the SLA targets and business hours of a new tenant."""
    with transaction.atomic():
        rls.add_tenant(organization.pk)
        catalog_defaults_create(organization=organization)
        IncidentSequence.objects.get_or_create(organization=organization)
        IncidentSettings.objects.get_or_create(organization=organization)
        sla_policy.defaults_create(organization)
