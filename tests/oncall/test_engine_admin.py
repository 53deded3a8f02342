"""Escalations and pages in the admin: read only, each organization's own."""

from __future__ import annotations

import pytest
from django.urls import reverse

from oncall.models import Escalation, Page
from oncall.services import escalations
from tenancy import rls
from tenancy.models import Role
from tests.oncall.engine_helpers import make_policy, make_service, open_incident


def opened(org, member, capture, name):
    person = member(Role.RESPONDER, organization=org, username=name)
    policy = make_policy(org, f"Policy {name}", [{"users": [person]}] * 2)
    incident = open_incident(
        org, capture, service=make_service(org, f"svc-{name}", policy=policy), title=name
    )
    escalations.escalations_tick(organization_id=org.pk)
    with rls.tenant_context(org.pk):
        return (
            Escalation.objects.for_org(org).get(incident=incident),
            Page.objects.for_org(org).get(incident=incident),
        )


@pytest.fixture
def ours(org, member, django_capture_on_commit_callbacks):
    return opened(org, member, django_capture_on_commit_callbacks, "ourperson")


@pytest.fixture
def theirs(other_org, member, django_capture_on_commit_callbacks):
    return opened(other_org, member, django_capture_on_commit_callbacks, "theirperson")


def test_lists_show_the_admins_organization_only(client_for, member, ours, theirs):
    client = client_for(member(Role.ADMIN))
    for model, needle in ((Escalation, "Policy ourperson"), (Page, "ourperson")):
        page = client.get(reverse(f"admin:oncall_{model._meta.model_name}_changelist"))
        assert page.status_code == 200
        assert needle in page.content.decode()
        assert "theirperson" not in page.content.decode()


def test_read_only_and_another_organizations_rows_answer_404(client_for, member, ours, theirs):
    client = client_for(member(Role.OWNER))
    for obj in ours:
        name = obj._meta.model_name
        response = client.get(reverse(f"admin:oncall_{name}_change", args=[obj.pk]))
        assert response.status_code == 200
        assert 'type="submit"' not in response.content.decode().split('id="content-main"')[1]
        assert client.get(reverse(f"admin:oncall_{name}_add")).status_code == 403
    for obj in theirs:
        name = obj._meta.model_name
        for view in ("change", "delete", "history"):
            response = client.get(reverse(f"admin:oncall_{name}_{view}", args=[obj.pk]))
            assert response.status_code == 404, (obj, view)
            assert "theirperson" not in response.content.decode()
