"""Every route of the URL conf, addressed at another organization, answers 404.

The walk enumerates the URL conf, so a new endpoint or page is covered the day it is
added: a route with an identifier this module does not know fails until a foreign value
for it is added below.
"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F, ForeignKey, Q
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from alerts import services as alert_services
from incidents import services as incident_services
from incidents.services import saved_views
from oncall.services import policies as policy_services
from reviews import services as review_services
from tenancy import rls, services
from tenancy.models import AuditEvent, Organization, Role, TenantModel

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]
# Namespaces of the portal's pages (session login), as opposed to the API's routes.
PORTAL_NAMESPACES = (
    "portal:",
    "incidents:",
    "reviews:",
    "services:",
    "oncall:",
    "notifications:",
)
# Identifiers that exist nowhere; an integer where the route converts to one.
MISSING = {
    "number": "999999",
    "attachment_id": "999999",
    "review": "999999",
    "item": "999999",
    "view": "999999",
    "integration": "999999",
    "invitation": "999999",
    "schedule": "999999",
    "policy": "999999",
    "page": "999999",
    "webhook": "999999",
    "delivery": "999999",
}
# Routes authorized by a signed token rather than by membership (the reporter's e-mail link
# to confirm or reopen, a paged person's link to acknowledge); tests/incidents/test_closure.py
# and tests/oncall/test_ack_link.py walk them across organizations.
TOKEN_ROUTES = {"incidents:confirm", "paging:acknowledge"}
# Routes whose ``pk`` is not an audit event's: the foreign value they take instead.
PK_OF = {
    "schedule-detail": "schedule",
    "schedule-import-calendar": "schedule",
    "schedule-oncall": "schedule",
    "schedule-shifts": "schedule",
    "schedule-override-detail": "override",
    "schedule-swap-accept": "swap",
    "schedule-swap-cancel": "swap",
    "schedule-swap-detail": "swap",
    "page-acknowledge": "page",
}


def foreign_kwargs(name: str, groups, foreign, **own) -> dict:
    """The route's groups filled with the other organization's values (``own`` first)."""
    return {
        group: own[group]
        if group in own
        else foreign[PK_OF.get(name, "pk") if group == "pk" else group]
        for group in groups
    }


def walk(patterns=None, prefix="", namespace=None):
    """(regex, url name) for every named route."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        regex = prefix + entry.pattern.regex.pattern.lstrip("^").rstrip("$").removesuffix(r"\Z")
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns:
                ns = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else ns
            yield from walk(entry.url_patterns, regex, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield regex, f"{namespace}:{entry.name}" if namespace else entry.name


def organization_routes():
    routes = {}
    for regex, name in walk():
        groups = set(re.compile(regex).groupindex)
        if "org" in groups:
            routes[name] = groups
    return routes


@pytest.fixture
def foreign(other_org, member, api_key_for, settings, tmp_path):
    """Identifiers of objects that live in the other organization only."""
    settings.MEDIA_ROOT = tmp_path / "media"
    team = services.team_create(organization=other_org, actor=None, slug="secret", name="Secret")
    user = member(Role.OWNER, organization=other_org, username="stranger")
    services.team_member_add(organization=other_org, actor=None, team=team, user=user)
    secret_service = incident_services.service_create(
        organization=other_org, actor=None, slug="secret", name="Secret", team=team
    )
    integration = alert_services.integration_create(  # Alert integrations
        organization=other_org, actor=None, service=secret_service, kind="generic", name="Secret"
    )
    # Several incidents, so the other organization's newest number is one `org` never has.
    for index in range(3):
        incident = incident_services.incident_create(
            organization=other_org, actor=None, title=f"Secret incident {index}", reporter=user
        )
    # Post-incident review: a review of the resolved incident, with an action item.
    incident_services.incident_transition(
        organization=other_org, actor=None, incident=incident, status="resolved", resolution="x"
    )
    review = review_services.review_create(organization=other_org, actor=user, incident=incident)
    item = review_services.action_item_create(
        organization=other_org, actor=user, review=review, title="Secret follow-up", owner=user
    )
    event = AuditEvent.objects.for_org(other_org).latest("id")
    attachment = incident_services.attachment_add(
        organization=other_org,
        actor=user,
        incident=incident,
        upload=SimpleUploadedFile("secret.txt", b"Secret notes", content_type="text/plain"),
    )
    view = saved_views.saved_view_save(  # Saved queue views
        organization=other_org, owner=user, name="Secret view", query="status=new"
    )
    invitation = services.invitation_create(  # Invitations
        organization=other_org, actor=user, email="secret-invitee@example.com"
    )
    schedule = _secret_schedule(other_org, user)  # On-call schedules
    policy = policy_services.policy_create(  # Escalation policies
        organization=other_org,
        actor=user,
        name="Secret policy",
        steps=[{"delay_minutes": 5, "users": [user.username], "schedules": [schedule.pk]}],
    )
    return {
        "org": other_org.slug,
        "slug": "secret",
        "team": "secret",
        "username": "stranger",
        "pk": str(event.pk),
        "number": str(incident.number),
        "attachment_id": str(attachment.pk),
        "review": str(review.pk),  # Post-incident review
        "item": str(item.pk),
        "view": str(view.pk),
        "service": "secret",  # Services pages
        "integration": str(integration.pk),
        "invitation": str(invitation.pk),
        "schedule": str(schedule.pk),
        "policy": str(policy.pk),
        "page": str(_secret_page(incident, user).pk),
        **_secret_cover(schedule, user),
        **_secret_webhook(incident, user),
    }


def _secret_webhook(incident, user) -> dict:
    """A webhook of the other organization, with a delivery about its incident."""
    from notifications.services import webhooks
    from tests.notifications import rows

    organization = incident.organization
    webhook, _ = webhooks.webhook_create(
        organization=organization,
        actor=user,
        name="Secret hook",
        url="https://secret.example/hooks",
        events=["incident.created"],
    )
    with rls.tenant_context(organization.pk):
        delivery = rows.delivery_save(
            webhook, incident=incident, payload={"type": "Secret"}, status="failed"
        )
    return {"webhook": str(webhook.pk), "delivery": str(delivery.pk)}


def _secret_page(incident, user):
    from oncall.models import Page

    with rls.tenant_context(incident.organization_id):
        return Page.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            recipient=user,
            reason="Secret page",
        )


def _secret_cover(schedule, user) -> dict:
    """An override and an offered swap on the other organization's schedule."""
    from datetime import timedelta

    from django.utils import timezone

    from oncall.services import schedules as schedule_services

    organization, start = schedule.organization, timezone.now() + timedelta(days=2)
    override = schedule_services.override_create(
        organization=organization,
        actor=user,
        schedule=schedule,
        user=user,
        start=start,
        end=start + timedelta(hours=4),
    )
    swap = schedule_services.swap_offer(
        organization=organization,
        actor=user,
        schedule=schedule,
        start=start + timedelta(days=1),
        end=start + timedelta(days=1, hours=2),
    )
    return {"override": str(override.pk), "swap": str(swap.pk)}


def _secret_schedule(organization, user):
    from datetime import date

    from oncall.models import Layer, Participant, Schedule

    with rls.tenant_context(organization.pk):
        schedule = Schedule.objects.create(organization=organization, name="Secret rota")
        layer = Layer.objects.create(
            organization=organization, schedule=schedule, name="Secret", rotation_start=date.today()
        )
        Participant.objects.create(organization=organization, layer=layer, user=user, position=0)
    return schedule


def foreign_body(values):
    return {
        "slug": values["slug"],
        "team": values["team"],
        "username": values["username"],
        "name": "Planted",
        "role": "owner",
        "organization": values["org"],
    }


def snapshot():
    rls.set_tenant(Organization.objects.values_list("pk", flat=True))  # every organization
    rows = {}
    for model in rls.tenant_models():
        rows[model.__name__] = sorted(model.objects.unscoped().values_list("pk", "organization_id"))
    return rows


def test_the_walk_finds_the_organization_routes():
    routes = organization_routes()
    assert {"organization", "team-list", "member-detail", "portal:home"} <= set(routes)


@pytest.mark.parametrize("credential", ["session", "api_key"])
def test_every_organization_route_answers_404_to_another_organizations_owner(
    org, other_org, foreign, member, api_key_for, api_client_for, credential
):
    principal = member(Role.OWNER) if credential == "session" else api_key_for(Role.OWNER)
    client = api_client_for(principal)
    before = snapshot()
    for name, groups in organization_routes().items():
        if credential == "api_key" and name.startswith(PORTAL_NAMESPACES):
            continue  # keys authenticate the API only; the portal sends them to log in
        if name in TOKEN_ROUTES:
            continue
        unknown = groups - set(foreign)
        assert not unknown, f"{name}: give the walk a foreign value for {unknown}"
        url = reverse(name, kwargs=foreign_kwargs(name, groups, foreign))
        for method in METHODS:
            response = getattr(client, method)(url, foreign_body(foreign), format="json")
            assert response.status_code == 404, (method, url, response.status_code)
            assert b"stranger" not in response.content
            assert b"Secret" not in response.content
        # The own organization in the URL, the other's objects in the rest of it: the
        # same answer as for objects that do not exist (404, or 405 for a method the
        # route never takes).
        if groups - {"org"}:
            own = reverse(name, kwargs=foreign_kwargs(name, groups, foreign, org=org.slug))
            missing = reverse(
                name,
                kwargs={
                    g: org.slug if g == "org" else MISSING.get(g, "no-such-thing") for g in groups
                },
            )
            for method in METHODS:
                response = getattr(client, method)(own, foreign_body(foreign), format="json")
                absent = getattr(client, method)(missing, foreign_body(foreign), format="json")
                assert response.status_code in (404, 405), (method, own, response.status_code)
                assert response.status_code == absent.status_code, (method, own)
                assert b"stranger" not in response.content
    assert snapshot() == before


@pytest.mark.parametrize("credential", ["session", "api_key"])
def test_foreign_identifiers_in_bodies_never_link_organizations(
    org, other_org, foreign, member, api_key_for, api_client_for, credential
):
    """Posting the other organization's identifiers to our own collections links nothing."""
    services.team_create(organization=org, actor=None, slug="ours", name="Ours")
    principal = member(Role.OWNER) if credential == "session" else api_key_for(Role.OWNER)
    client = api_client_for(principal)
    for name, groups in organization_routes().items():
        if groups - {"org", "team"} or name.startswith(PORTAL_NAMESPACES):
            continue  # collections only: detail routes were walked above
        kwargs = {"org": org.slug, **({"team": "ours"} if "team" in groups else {})}
        response = client.post(reverse(name, kwargs=kwargs), foreign_body(foreign), format="json")
        assert response.status_code < 500, (name, response.content)
    assert_no_row_crosses_organizations()


def assert_no_row_crosses_organizations():
    for model in rls.tenant_models():
        for field in model._meta.get_fields():
            if not isinstance(field, ForeignKey) or field.name == "organization":
                continue
            related = field.related_model
            queryset = model.objects.unscoped()
            if issubclass(related, TenantModel):
                crossing = queryset.filter(~Q(organization=F(f"{field.name}__organization")))
            elif related._meta.label == "auth.User" and model.__name__ != "Membership":
                crossing = queryset.exclude(
                    **{f"{field.name}__memberships__organization": F("organization")}
                )
                crossing = crossing.filter(**{f"{field.name}__isnull": False})
            else:
                continue
            assert not crossing.exists(), f"{model.__name__}.{field.name} crosses organizations"


def test_the_invariant_check_can_fail(org, other_org, member):
    team = services.team_create(organization=org, actor=None, slug="t", name="T")
    theirs = member(Role.RESPONDER, organization=other_org)
    from tenancy.models import TeamMembership

    TeamMembership.objects.bulk_create([TeamMembership(organization=org, team=team, user=theirs)])
    with pytest.raises(AssertionError, match="crosses organizations"):
        assert_no_row_crosses_organizations()
