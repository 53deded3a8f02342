"""``seed_demo`` gives on-call something to show: schedules with layers and an override,
two-step policies on the services, escalations running and weeks of pages."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from oncall.models import Escalation, EscalationPolicy, Override, Page, Schedule, ServicePolicy
from oncall.services import escalations
from tenancy import rls
from tenancy.models import Organization

pytestmark = pytest.mark.django_db


def test_seed_demo_sets_up_on_call_and_escalates_what_nobody_acknowledged(
    django_capture_on_commit_callbacks,
):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("seed_demo", stdout=out)
    acme = Organization.objects.get(slug="acme")
    with rls.tenant_context(acme.pk):
        schedules = Schedule.objects.for_org(acme)
        assert {s.name: s.layers.count() for s in schedules} == {
            "Platform primary": 2,
            "Network on-call": 1,
        }
        assert Override.objects.for_org(acme).count() == 2
        assert all(p.steps.count() == 2 for p in EscalationPolicy.objects.for_org(acme))
        assert set(ServicePolicy.objects.for_org(acme).values_list("service__slug", flat=True)) == {
            "checkout-api",
            "payments",
            "website",
            "corporate-vpn",
        }
        running = Escalation.objects.for_org(acme).filter(state=Escalation.State.ACTIVE)
        assert running.exists()
        history = Page.objects.for_org(acme).filter(
            created_at__lt=timezone.now() - timedelta(days=1)
        )
        assert history.count() >= 20
        assert history.values("recipient").distinct().count() >= 2
    assert "escalations running" in out.getvalue()

    # The escalations page their first step on the next tick.
    with django_capture_on_commit_callbacks(execute=True):
        escalations.escalations_tick(organization_id=acme.pk)
    with rls.tenant_context(acme.pk):
        fresh = Page.objects.for_org(acme).filter(escalation__isnull=False)
        assert fresh.count() >= running.count()

    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    with rls.tenant_context(acme.pk):
        assert Schedule.objects.for_org(acme).count() == 2
