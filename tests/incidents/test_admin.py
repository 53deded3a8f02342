import pytest
from django.urls import reverse

from core.errors import DomainError
from incidents import services
from incidents.models import (
    Category,
    Incident,
    PriorityRule,
    Service,
    TimelineEntry,
)
from incidents.states import Status
from tenancy import services as tenancy_services
from tenancy.models import AuditEvent, Role
from tests.admin_forms import errors, shown
from tests.conftest import see

pytestmark = pytest.mark.django_db


def admin_url(obj, view="change"):
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


def add_incident(client, org, **fields):
    """Posts the incident add form as the admin page sends it, with ``fields`` filled in."""
    return client.post(
        reverse("admin:incidents_incident_add"),
        {
            "organization": org.pk,
            "description": "",
            "detected_at_0": "2026-11-28",
            "detected_at_1": "08:00:00",
            "source": "phone",
            "error_codes": "[]",
            "tags": "[]",
            "timeline-TOTAL_FORMS": 0,
            "timeline-INITIAL_FORMS": 0,
            **fields,
        },
    )


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
    response = add_incident(
        client,
        org,
        title="Printer on fire",
        impact=1,
        urgency=2,
        severity="sev2",
        assignee=responder.pk,
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


# --- Two organizations in one admin: choices and saves stay inside the object's --------------


@pytest.fixture
def two(org, other_org, member):
    """Per organization: a team, a service, a category, a responder, a reporter."""
    made = {}
    for organization in (org, other_org):
        slug = organization.slug
        team = tenancy_services.team_create(
            organization=organization, actor=None, slug=f"{slug}-team", name=f"{slug} team"
        )
        made[slug] = {
            "team": team,
            "service": services.service_create(
                organization=organization, actor=None, slug=f"{slug}-svc", name=f"{slug} svc"
            ),
            "category": Category.objects.for_org(organization).get(slug="network"),
            "responder": member(Role.RESPONDER, organization=organization),
            "reporter": member(Role.REPORTER, organization=organization),
        }
    return made


def choices(response, field) -> set:
    return set(response.context["adminform"].form.fields[field].queryset)


def test_change_form_choices_follow_the_objects_organization(
    client_for, operator, org, other_org, two
):
    ours, theirs = two["acme"], two["globex"]
    reporter = ours["reporter"]
    incident = services.incident_create(
        organization=org, actor=None, title="Ours", reporter=reporter
    )
    client = client_for(operator)
    page = client.get(admin_url(incident))
    assert choices(page, "service") == {ours["service"]}
    assert choices(page, "team") == {ours["team"]}
    assert ours["category"] in choices(page, "category")
    assert theirs["category"] not in choices(page, "category")
    assert "reporter" not in page.context["adminform"].form.fields  # the record: read-only
    for person in ("assignee", "commander", "comms_lead"):
        offered = choices(page, person)
        assert ours["responder"] in offered, person
        # Reporters do not work incidents: not offered (see the roles' tests below).
        assert not offered & {reporter, theirs["responder"], theirs["reporter"]}, person
    service_page = client.get(admin_url(ours["service"]))
    assert choices(service_page, "team") == {ours["team"]}


def test_a_service_cannot_get_another_organizations_team(client_for, operator, org, two):
    ours, theirs = two["acme"], two["globex"]
    client = client_for(operator)
    url = admin_url(ours["service"])
    response = client.post(url, shown(client.get(url), team=theirs["team"].pk))
    assert "team" in errors(response)
    assert Service.objects.for_org(org).get(pk=ours["service"].pk).team is None
    added = client.post(
        reverse("admin:incidents_service_add"),
        {
            "organization": org.pk,
            "slug": "planted",
            "name": "Planted",
            "description": "",
            "team": theirs["team"].pk,
            "status": "operational",
            "alert_severity_map": "{}",
        },
    )
    assert "Choose one of Acme’s teams." in errors(added)["team"]
    see(org)
    assert not Service.objects.unscoped().filter(slug="planted").exists()


def test_services_saved_in_the_admin_go_through_the_service_layer(
    client_for, operator, org, two, monkeypatch
):
    ours = two["acme"]
    calls = []
    for name in ("service_create", "service_update", "service_delete"):
        original = getattr(services, name)

        def spy(*, _original=original, _name=name, **kwargs):
            calls.append((_name, kwargs["organization"], kwargs["actor"]))
            return _original(**kwargs)

        monkeypatch.setattr(services, name, spy)
    client = client_for(operator)
    url = admin_url(ours["service"])
    response = client.post(url, shown(client.get(url), team=ours["team"].pk, name="Renamed"))
    assert response.status_code == 302
    added = client.post(
        reverse("admin:incidents_service_add"),
        {
            "organization": org.pk,
            "slug": "new",
            "name": "New",
            "description": "",
            "status": "operational",
            "alert_severity_map": "{}",
        },
    )
    assert added.status_code == 302, errors(added)
    new = Service.objects.for_org(org).get(slug="new")
    deleted = client.post(admin_url(new, "delete"), {"post": "yes"})
    assert deleted.status_code == 302
    assert calls == [
        ("service_update", org, operator),
        ("service_create", org, operator),
        ("service_delete", org, operator),
    ]
    saved = Service.objects.for_org(org).get(pk=ours["service"].pk)
    assert (saved.name, saved.team) == ("Renamed", ours["team"])
    event = AuditEvent.objects.for_org(org).filter(action="service.updated").get()
    assert (event.actor, event.before["name"], event.after["name"]) == (
        operator,
        "acme svc",
        "Renamed",
    )
    assert not Service.objects.for_org(org).filter(slug="new").exists()


@pytest.mark.parametrize("field", ["service", "team", "category", "assignee", "commander"])
def test_an_incident_cannot_name_another_organizations_rows(client_for, operator, org, two, field):
    theirs = two["globex"]
    foreign = {
        "service": theirs["service"],
        "team": theirs["team"],
        "category": theirs["category"],
        "assignee": theirs["responder"],
        "commander": theirs["responder"],
    }[field]
    incident = services.incident_create(organization=org, actor=None, title="Ours")
    client = client_for(operator)
    url = admin_url(incident)
    response = client.post(url, shown(client.get(url), **{field: foreign.pk}, title="Changed"))
    assert field in errors(response)  # a form error, not a 500
    saved = Incident.objects.for_org(org).get(pk=incident.pk)
    assert (saved.title, getattr(saved, field)) == ("Ours", None)


@pytest.mark.parametrize("field", ["service", "team", "assignee"])
def test_an_added_incident_cannot_name_another_organizations_rows(
    client_for, operator, org, two, field
):
    theirs = two["globex"]
    foreign = {"service": theirs["service"], "team": theirs["team"]}.get(field, theirs["responder"])
    response = add_incident(
        client_for(operator),
        org,
        title="Planted",
        impact=3,
        urgency=3,
        severity="",
        **{field: foreign.pk},
    )
    assert field in errors(response)
    see(org)
    assert not Incident.objects.unscoped().filter(title="Planted").exists()


@pytest.mark.parametrize("field", ["assignee", "commander", "comms_lead"])
@pytest.mark.parametrize("role", [Role.REPORTER, Role.STAKEHOLDER])
def test_only_members_who_work_incidents_hold_incident_roles_in_the_admin(
    client_for, operator, member, org, field, role
):
    person = member(role, username="person")
    incident = services.incident_create(organization=org, actor=None, title="Ours")
    client = client_for(operator)
    url = admin_url(incident)
    page = client.get(url)
    assert person not in choices(page, field)
    response = client.post(url, shown(page, **{field: person.pk}))
    assert field in errors(response)
    assert getattr(Incident.objects.for_org(org).get(pk=incident.pk), field) is None
    # Offered or not, the service has the last word: its refusal is a form error too.
    added = add_incident(
        client, org, title="Planted", impact=3, urgency=3, severity="", **{field: person.pk}
    )
    assert "person is a" in errors(added)[field][0]
    see(org)
    assert not Incident.objects.unscoped().filter(title="Planted").exists()
    assert getattr(Incident.objects.for_org(org).get(pk=incident.pk), field) is None
    responder = member(Role.RESPONDER, username="worker")
    response = client.post(url, shown(client.get(url), **{field: responder.pk}))
    assert response.status_code == 302
    assert getattr(Incident.objects.for_org(org).get(pk=incident.pk), field) == responder


def test_a_domain_error_from_a_service_is_shown_on_the_form(client_for, operator, org, monkeypatch):
    """Whatever a service refuses at save time is a form error: the save is rolled back."""
    incident = services.incident_create(organization=org, actor=None, title="Ours")

    def refuse(**kwargs):
        raise DomainError("Not now.", field="title")

    monkeypatch.setattr(services, "incident_update", refuse)
    client = client_for(operator)
    url = admin_url(incident)
    response = client.post(url, shown(client.get(url), title="Changed"))
    assert errors(response)["title"] == ["Not now."]
    assert Incident.objects.for_org(org).get(pk=incident.pk).title == "Ours"


def test_a_domain_error_while_deleting_is_a_message(client_for, operator, org, two, monkeypatch):
    ours = two["acme"]

    def refuse(**kwargs):
        raise DomainError("The service still has open incidents.")

    monkeypatch.setattr(services, "service_delete", refuse)
    url = admin_url(ours["service"], "delete")
    response = client_for(operator).post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert "The service still has open incidents." in response.content.decode()
    assert Service.objects.for_org(org).filter(pk=ours["service"].pk).exists()


def test_after_creation_only_what_the_service_changes_is_editable(client_for, member, org):
    """The reporter, the origin and the detection time are the record: shown read-only on
    the change page, so an edit is never accepted and then silently dropped."""
    reporter = member(Role.REPORTER)
    incident = services.incident_create(
        organization=org,
        actor=reporter,
        title="Slow",
        reporter=reporter,
        source="phone",
        dedup_key="k-1",
    )
    client = client_for(member(Role.ADMIN))
    page = client.get(admin_url(incident))
    form = page.context["adminform"].form
    for field in ("reporter", "source", "dedup_key", "detected_at", "organization"):
        assert field not in form.fields, field
    for field in ("title", "assignee", "occurred_at", "tags"):
        assert field in form.fields, field
    data = shown(page, title="Slower", source="api", dedup_key="k-2", reporter="")
    assert client.post(admin_url(incident), data).status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.source, incident.dedup_key) == ("Slower", "phone", "k-1")
    assert incident.reporter == reporter
