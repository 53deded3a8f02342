"""Regression tests for what the review of the incident code found."""

import pytest
from django.urls import reverse

from core.errors import DomainError
from incidents import services
from tenancy.models import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "nonsense", "1" * 80]
)
def test_change_feeds_survive_out_of_range_times(client_for, member, org, since):
    responder = member(Role.RESPONDER)
    incident = services.incident_create(organization=org, actor=responder, title="Down")
    client = client_for(responder)
    feeds = [
        reverse("incidents:changes", kwargs={"org": org.slug}),
        reverse("incidents:incident-changes", kwargs={"org": org.slug, "number": incident.number}),
    ]
    for feed in feeds:
        assert client.get(feed, {"since": since}).status_code in (200, 400), feed


@pytest.mark.parametrize("field", ["assignee", "commander", "comms_lead"])
def test_people_from_another_organization_cannot_be_named(org, other_org, member, field):
    stranger = member(Role.RESPONDER, organization=other_org)
    incident = services.incident_create(organization=org, actor=None, title="Down")
    with pytest.raises(DomainError) as refused:
        services.incident_update(
            organization=org, actor=None, incident=incident, **{field: stranger}
        )
    assert refused.value.field == field
    with pytest.raises(DomainError):
        services.incident_create(organization=org, actor=None, title="x", reporter=stranger)
