import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Category, Incident, PriorityRule, Service, TimelineEntry
from incidents.states import Status
from tenancy.models import Role

pytestmark = pytest.mark.django_db


def admin_url(obj, view="change"):
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.fixture
def theirs(other_org):
    service = services.service_create(
        organization=other_org, actor=None, slug="secret-svc", name="Secret service"
    )
    incident = services.incident_create(
        organization=other_org, actor=None, title="Their secret outage", service=service
    )
    return {
        "incident": incident,
        "service": service,
        "category": Category.objects.for_org(other_org).first(),
        "rule": PriorityRule.objects.for_org(other_org).first(),
    }


def test_other_organizations_incident_configuration_answers_404(client_for, member, org, theirs):
    client = client_for(member(Role.OWNER))
    for obj in theirs.values():
        for view in ("change", "delete", "history"):
            assert client.get(admin_url(obj, view)).status_code == 404, (obj, view)
    for model in (Incident, Service, Category, PriorityRule):
        content = client.get(changelist(model)).content.decode()
        assert "Their secret outage" not in content
        assert "Secret service" not in content


def test_admin_creates_incidents_through_the_service(client_for, member, org):
    admin_user = member(Role.ADMIN)
    responder = member(Role.RESPONDER)
    client = client_for(admin_user)
    response = client.post(
        reverse("admin:incidents_incident_add"),
        {
            "organization": org.pk,
            "title": "Printer on fire",
            "description": "",
            "impact": 1,
            "urgency": 2,
            "severity": "sev2",
            "assignee": responder.pk,
            "detected_at_0": "2026-11-28",
            "detected_at_1": "08:00:00",
            "source": "phone",
            "error_codes": "[]",
            "tags": "[]",
            "timeline-TOTAL_FORMS": 0,
            "timeline-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    incident = Incident.objects.for_org(org).get(title="Printer on fire")
    assert (incident.number, incident.priority, incident.assignee) == (1, 2, responder)
    kinds = set(
        TimelineEntry.objects.for_org(org).filter(incident=incident).values_list("kind", flat=True)
    )
    assert kinds == {"created", "assigned"}


def test_transitions_are_admin_actions(client_for, member, org):
    incident = services.incident_create(organization=org, actor=None, title="Slow")
    closed = services.incident_create(organization=org, actor=None, title="Done")
    services.incident_transition(organization=org, actor=None, incident=closed, status="cancelled")
    client = client_for(member(Role.ADMIN))
    response = client.post(
        changelist(Incident),
        {"action": "transition_to_acknowledged", "_selected_action": [incident.pk, closed.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "Acknowledge: 1 incident(s)." in text
    assert f"{closed.reference}: An incident cannot go from cancelled" in text
    assert Incident.objects.for_org(org).get(pk=incident.pk).status == Status.ACKNOWLEDGED
    assert Incident.objects.for_org(org).get(pk=closed.pk).status == Status.CANCELLED


def test_the_priority_matrix_is_editable_per_organization(client_for, member, org, other_org):
    client = client_for(member(Role.ADMIN))
    rule = PriorityRule.objects.for_org(org).get(impact=3, urgency=3)
    response = client.post(admin_url(rule), {"impact": 3, "urgency": 3, "priority": 4})
    assert response.status_code == 302
    assert services.incident_create(organization=org, actor=None, title="x").priority == 4
    assert services.incident_create(organization=other_org, actor=None, title="x").priority == 5


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.REPORTER, Role.STAKEHOLDER])
def test_non_admins_cannot_use_the_incident_admin(client_for, member, org, role):
    response = client_for(member(role)).get(changelist(Incident))
    assert response.status_code == 302
