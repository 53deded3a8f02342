"""``seed_demo`` shows outgoing webhooks: one per organization, turned off until pointed
at a real receiver, with past deliveries (one tried twice, one refused) on incidents."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from notifications.models import Attempt, Delivery, Webhook
from tenancy import rls
from tenancy.models import Organization

pytestmark = pytest.mark.django_db


def test_seed_demo_has_a_webhook_and_its_deliveries(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        call_command("seed_demo", stdout=io.StringIO())
    acme = Organization.objects.get(slug="acme")
    with rls.tenant_context(acme.pk):
        [webhook] = Webhook.objects.for_org(acme)
        assert not webhook.is_active
        assert webhook.disabled_reason
        assert webhook.secret.startswith("whsec_")
        statuses = list(Delivery.objects.for_org(acme).values_list("status", flat=True))
        assert statuses.count("failed") == 1
        assert len(statuses) == 6
        assert sorted(Attempt.objects.for_org(acme).values_list("status_code", flat=True)) == [
            200,
            200,
            200,
            200,
            200,
            404,
            503,
        ]
        assert all(d.incident_id for d in Delivery.objects.for_org(acme))
