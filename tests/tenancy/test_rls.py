"""Layers 2 and 3 of isolation on PostgreSQL: row-level security and database roles.

Each test creates the roles inside its own transaction (CREATE ROLE and GRANT are
transactional in PostgreSQL, so nothing outlives the test) and switches to the app role
with SET LOCAL ROLE: the queries then run exactly as web and workers run them.
"""

import contextlib
import io
import re

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse

from reviews import services as review_services
from tenancy import rls, services
from tenancy.models import AuditEvent, Membership, Role, Team

# The owner creates the roles these tests switch to (SET LOCAL ROLE) and reads the catalog.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.db_owner]

APP_ROLE = "beacon_test_app"
BYPASS_ROLE = "beacon_test_bypass"


def sql(query, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


@pytest.fixture
def roles(db):
    call_command(
        "setup_database_roles",
        "--app-role",
        APP_ROLE,
        "--bypass-role",
        BYPASS_ROLE,
        stdout=io.StringIO(),
    )


def reset_settings():
    for name in (
        rls.TENANT_SETTING,
        rls.USER_SETTING,
        rls.API_KEY_SETTING,
        rls.INTEGRATION_KEY_SETTING,
        rls.INVITATION_TOKEN_SETTING,
    ):
        sql("SELECT set_config(%s, '', true)", [name])


@contextlib.contextmanager
def as_role(name):
    reset_settings()
    sql(f"SET LOCAL ROLE {name}")
    try:
        yield
    finally:
        sql("RESET ROLE")


@pytest.fixture
def two_tenants(org, other_org, member, api_key_for):
    """A row in every tenant table of each organization."""
    from events.models import Delivery, Event
    from incidents import services as incident_services
    from incidents.models import Attachment, IdempotencyKey
    from incidents.services import saved_views

    for organization in (org, other_org):
        service = incident_services.service_create(  # with alerts' severity map
            organization=organization,
            actor=None,
            slug="web",
            name="Web",
            alert_severity_map={"info": {"urgency": 2}},
        )
        incident = incident_services.incident_create(
            organization=organization, actor=None, title="Down", service=service
        )
        # Post-incident review: a review of the resolved incident, with an action item.
        incident = incident_services.incident_transition(
            organization=organization,
            actor=None,
            incident=incident,
            status="resolved",
            resolution="Fixed.",
        )
        review = review_services.review_create(
            organization=organization, actor=None, incident=incident
        )
        review_services.action_item_create(
            organization=organization, actor=None, review=review, title="Follow up"
        )
        team = services.team_create(
            organization=organization, actor=None, slug="ops", name=f"{organization.name} ops"
        )
        user = member(Role.RESPONDER, organization=organization)
        services.team_member_add(organization=organization, actor=None, team=team, user=user)
        api_key_for(Role.RESPONDER, organization=organization)
        IdempotencyKey.objects.create(  # Closure: written by API requests, not services
            organization=organization, key="k", principal="user:0", request_hash="0" * 64
        )
        Attachment.objects.create(  # Attachments: the row only, no file in storage
            organization=organization,
            incident=incident,
            file="attachments/0/0/0/a.txt",
            original_name="a.txt",
            content_type="text/plain",
            size=1,
        )
        saved_views.saved_view_save(  # Saved queue views
            organization=organization, owner=user, name="Mine", query="assignee=me"
        )
        services.invitation_create(  # Invitations
            organization=organization, actor=None, email=f"new@{organization.slug}.example"
        )
        _alerts_of(service)
        # Events: the incident's changes published some; a subscriber ran for the first.
        event = Event.objects.for_org(organization).order_by("pk").first()
        Delivery.objects.create(organization=organization, event=event, subscriber="rls")
        _oncall_of(organization, service=service, team=team, user=user, incident=incident)
        _notifications_of(organization, incident=incident)
    return org, other_org


def _notifications_of(organization, *, incident):
    """A webhook with a delivery and its attempt."""
    from notifications import models as notifications
    from notifications.services import webhooks
    from tests.notifications import rows

    webhook, _ = webhooks.webhook_create(
        organization=organization,
        actor=None,
        name="Tickets",
        url="https://tickets.example/hooks",
        events=["incident.created"],
    )
    with transaction.atomic():
        rls.add_tenant(organization.pk)
        delivery = rows.delivery_save(webhook, incident=incident)
        notifications.Attempt.objects.create(
            organization=organization, delivery=delivery, number=1, status_code=200
        )


def _oncall_of(organization, *, service, team, user, incident):
    """A schedule (layer, participant, override, swap), a policy (step, target) used by
    the service and the team, and an escalation with a page."""
    from datetime import date, timedelta

    from django.utils import timezone

    from oncall import models as oncall

    with transaction.atomic():
        rls.add_tenant(organization.pk)
        tenant = {"organization": organization}
        schedule = oncall.Schedule.objects.create(**tenant, name="Primary")
        layer = oncall.Layer.objects.create(
            **tenant, schedule=schedule, name="Weekly", rotation_start=date(2026, 1, 5)
        )
        oncall.Participant.objects.create(**tenant, layer=layer, user=user, position=0)
        start = timezone.now()
        oncall.Override.objects.create(
            **tenant, schedule=schedule, user=user, start=start, end=start + timedelta(hours=1)
        )
        oncall.Swap.objects.create(
            **tenant, schedule=schedule, offered_by=user, start=start, end=start + timedelta(1)
        )
        policy = oncall.EscalationPolicy.objects.create(**tenant, name="Default")
        step = oncall.Step.objects.create(**tenant, policy=policy, position=0)
        oncall.StepTarget.objects.create(**tenant, step=step, schedule=schedule)
        oncall.ServicePolicy.objects.create(**tenant, service=service, policy=policy)
        oncall.TeamPolicy.objects.create(**tenant, team=team, policy=policy)
        escalation = oncall.Escalation.objects.create(
            **tenant, incident=incident, policy=policy, snapshot={}, state="resolved"
        )
        oncall.Page.objects.create(
            **tenant, incident=incident, escalation=escalation, step=0, repeat=0, recipient=user
        )


def _alerts_of(service):
    """An integration with an alert (and its incident) and a change event."""
    from alerts import services as alert_services
    from alerts.kinds import pagerduty
    from alerts.models import Integration

    integration = Integration.objects.create(
        organization_id=service.organization_id, service=service, kind="pagerduty", name="Prom"
    )
    event = {"routing_key": integration.key, "event_action": "trigger"}
    event["payload"] = {"summary": "CPU", "source": "web-1", "severity": "error"}
    change = {"routing_key": integration.key, "payload": {"summary": "Deploy 42"}}
    with transaction.atomic():
        rls.add_tenant(service.organization_id)
        alert_services.ingest(integration, [pagerduty.parse_event(event)[1]])
        alert_services.record_change(integration, **pagerduty.parse_change(change)[1])
    return integration


def test_every_tenant_table_has_forced_row_level_security():
    tables = rls.tenant_tables()
    assert {
        "tenancy_membership",
        "tenancy_team",
        "tenancy_teammembership",
        "tenancy_apikey",
        "tenancy_invitation",
    } <= set(tables)
    rows = dict(
        (name, (enabled, forced))
        for name, enabled, forced in sql(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relname = ANY(%s)",
            [tables],
        )
    )
    assert rows == {table: (True, True) for table in tables}
    policies = {
        table
        for (table,) in sql("SELECT tablename FROM pg_policies WHERE policyname = %s", [rls.POLICY])
    }
    assert policies == set(tables)


def test_app_role_is_neither_owner_nor_superuser_nor_bypassing(roles):
    (row,) = sql(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
        "WHERE rolname = %s",
        [APP_ROLE],
    )
    assert row == (False, False, False, False)
    owned = sql(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = %s",
        [APP_ROLE],
    )
    assert owned == [(0,)]
    assert sql("SELECT rolbypassrls FROM pg_roles WHERE rolname = %s", [BYPASS_ROLE]) == [(True,)]


def test_without_a_tenant_the_app_role_sees_nothing(roles, two_tenants):
    with as_role(APP_ROLE):
        for table in rls.tenant_tables():
            assert sql(f'SELECT count(*) FROM "{table}"') == [(0,)], table


def test_with_a_tenant_other_rows_are_invisible_and_unwritable(roles, two_tenants):
    org, other_org = two_tenants
    with as_role(APP_ROLE):
        rls.set_tenant([org.pk])
        for table in rls.tenant_tables():
            seen = {row[0] for row in sql(f'SELECT DISTINCT organization_id FROM "{table}"')}
            assert seen == {org.pk}, table
        assert (
            sql("UPDATE tenancy_team SET name = 'x' WHERE organization_id = %s", [other_org.pk])
            == 0
        )
        assert sql("DELETE FROM tenancy_apikey WHERE organization_id = %s", [other_org.pk]) == 0
        with pytest.raises(Exception, match="row-level security"), transaction.atomic():
            sql(
                "INSERT INTO tenancy_team (organization_id, slug, name, description, created_at) "
                "VALUES (%s, 'planted', 'Planted', '', now())",
                [other_org.pk],
            )
        # Moving one of our rows into the other organization is refused as well.
        with pytest.raises(Exception, match="row-level security"), transaction.atomic():
            sql(
                "UPDATE tenancy_team SET organization_id = %s WHERE organization_id = %s",
                [other_org.pk, org.pk],
            )
    assert Team.objects.for_org(other_org).get(slug="ops").name == "Globex ops"
    assert not Team.objects.unscoped().filter(slug="planted").exists()


def test_the_bypass_role_sees_every_tenant(roles, two_tenants):
    with as_role(BYPASS_ROLE):
        assert sql("SELECT count(DISTINCT organization_id) FROM tenancy_team") == [(2,)]


def test_own_memberships_are_readable_across_organizations_but_not_writable(
    roles, org, other_org, member
):
    user = member(Role.RESPONDER)
    services.membership_create(organization=other_org, actor=None, user=user, role=Role.REPORTER)
    member(Role.OWNER, organization=other_org)
    with as_role(APP_ROLE):
        rls.set_user(user.pk)
        rows = sql("SELECT organization_id, role FROM tenancy_membership ORDER BY organization_id")
        assert rows == [(org.pk, "responder"), (other_org.pk, "reporter")]
        assert (
            sql("UPDATE tenancy_membership SET role = 'owner' WHERE user_id = %s", [user.pk]) == 0
        )


def test_an_integration_is_readable_by_its_key_only_and_not_writable(roles, two_tenants):
    from alerts.models import Integration

    _, other_org = two_tenants
    key = Integration.objects.for_org(other_org).get().key
    with as_role(APP_ROLE):
        rls.set_integration_key(key)
        assert sql("SELECT organization_id, key FROM alerts_integration") == [(other_org.pk, key)]
        assert sql("UPDATE alerts_integration SET is_active = false") == 0
        assert sql("SELECT count(*) FROM incidents_service") == [(0,)]  # nothing else
        rls.set_integration_key("not-a-key")
        assert sql("SELECT count(*) FROM alerts_integration") == [(0,)]


def test_an_invitation_is_readable_by_its_link_only_and_not_writable(roles, two_tenants):
    from tenancy import selectors, tokens
    from tenancy.models import Invitation

    _, other_org = two_tenants
    token, digest = tokens.new()
    Invitation.objects.for_org(other_org).update(token_hash=digest)
    with as_role(APP_ROLE):
        rls.set_invitation_token_hash(digest)
        assert sql("SELECT organization_id, email FROM tenancy_invitation") == [
            (other_org.pk, "new@globex.example")
        ]
        assert sql("UPDATE tenancy_invitation SET role = 'owner'") == 0
        assert sql("DELETE FROM tenancy_invitation") == 0
        for table in rls.tenant_tables():  # nothing else of the organization
            if table != "tenancy_invitation":
                assert sql(f'SELECT count(*) FROM "{table}"') == [(0,)], table
        rls.set_invitation_token_hash("0" * 64)
        assert sql("SELECT count(*) FROM tenancy_invitation") == [(0,)]

        # The selector the acceptance page uses finds it, as the app role, by the link.
        reset_settings()
        invitation = selectors.invitation_by_token(token)
        assert (invitation.organization, invitation.email) == (other_org, "new@globex.example")
        reset_settings()
        assert selectors.invitation_by_token(token[:-2] + "xx") is None


def test_the_app_works_end_to_end_as_the_app_role(
    roles, two_tenants, member, api_key_for, api_client_for, client_for
):
    org, other_org = two_tenants
    raw = api_key_for(Role.ADMIN)
    with as_role(APP_ROLE):
        client = api_client_for(raw)
        listing = client.get(reverse("team-list", kwargs={"org": org.slug}))
        assert [t["slug"] for t in listing.json()["results"]] == ["ops"]
        reset_settings()
        created = client.post(
            reverse("team-list", kwargs={"org": org.slug}), {"slug": "db", "name": "DB"}
        )
        assert created.status_code == 201
        reset_settings()
        assert (
            client.get(reverse("organization", kwargs={"org": other_org.slug})).status_code == 404
        )

        reset_settings()
        user = member(Role.ADMIN)
        reset_settings()
        services.membership_create(
            organization=other_org, actor=None, user=user, role=Role.REPORTER
        )
        reset_settings()
        portal = client_for(user)
        picker = portal.get(reverse("portal:index")).content.decode()
        assert "Acme" in picker
        assert "Globex" in picker
        reset_settings()
        members = portal.get(reverse("portal:member-list", kwargs={"org": org.slug}))
        assert members.status_code == 200
        reset_settings()
        changelist = portal.get(reverse("admin:tenancy_team_changelist")).content.decode()
        assert "Acme ops" in changelist
        assert "Globex ops" not in changelist


def test_organization_index_is_used_with_row_level_security_on(roles, make_org):
    organizations = [make_org() for _ in range(20)]
    for organization in organizations:
        Team.objects.bulk_create(
            Team(organization=organization, slug=f"t{i}", name=f"T{i}") for i in range(100)
        )
    sql("ANALYZE tenancy_team")
    target = organizations[7]
    with as_role(APP_ROLE):
        rls.set_tenant([target.pk])
        queryset = Team.objects.for_org(target).order_by("slug")[:51]
        plan = queryset.explain()
        assert len(list(queryset)) == 51
    # The policy's condition and the scope's filter both become index conditions.
    assert re.search(r"Index (Only )?Scan using \S*organization\S* on tenancy_team", plan), plan
    assert "Index Cond: ((organization_id = ANY" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_setting_the_tenant_outside_a_transaction_is_refused(transactional_db):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        rls.set_tenant([1])


def test_setup_database_roles_sets_a_password(roles):
    call_command(
        "setup_database_roles",
        "--app-role",
        APP_ROLE,
        "--app-password",
        "pa'ss",
        stdout=io.StringIO(),
    )
    assert sql("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", [APP_ROLE]) == [
        (True,)
    ]


@pytest.fixture
def app_role_connection(transactional_db):
    """The test connection as the app role, each request in a transaction of its own."""
    call_command("setup_database_roles", "--app-role", APP_ROLE, stdout=io.StringIO())
    yield lambda: sql(f"SET ROLE {APP_ROLE}")
    sql("RESET ROLE")


def test_each_request_sets_its_own_tenant_as_the_app_role(
    app_role_connection, org, other_org, make_user, member, api_key_for, api_client_for, client
):
    from tests.conftest import log_in

    for organization in (org, other_org):
        services.team_create(
            organization=organization, actor=None, slug="ops", name=f"{organization.name} ops"
        )
    raw = api_key_for(Role.RESPONDER, organization=org)
    admin_user = member(Role.ADMIN, organization=org, username="ada")
    leaver = member(Role.REPORTER, organization=org, username="leaver")
    root = make_user("root", is_superuser=True, is_staff=True)
    app_role_connection()
    assert sql("SELECT current_user") == [(APP_ROLE,)]

    teams = api_client_for(raw).get(reverse("team-list", kwargs={"org": org.slug}))
    assert [t["name"] for t in teams.json()["results"]] == ["Acme ops"]
    html = api_client_for(raw).get(
        reverse("team-list", kwargs={"org": org.slug}), HTTP_ACCEPT="text/html"
    )
    assert html.status_code == 200
    assert "Acme ops" in html.content.decode()

    assert log_in(client, "ada", "a-long-test-password-1")
    assert client.get(reverse("portal:home", kwargs={"org": org.slug})).status_code == 200
    changelist = client.get(reverse("admin:tenancy_team_changelist")).content.decode()
    assert "Acme ops" in changelist
    assert "Globex ops" not in changelist
    assert client.get(reverse("portal:home", kwargs={"org": other_org.slug})).status_code == 404

    # A superuser deletes a user: memberships go, the audit log keeps its entries.
    client.force_login(root)
    response = client.post(reverse("admin:auth_user_delete", args=[leaver.pk]), {"post": "yes"})
    assert response.status_code == 302
    sql("RESET ROLE")
    assert not Membership.objects.unscoped().filter(user_id=leaver.pk).exists()
    assert (
        AuditEvent.objects.for_org(org)
        .filter(action="member.added", target_label__contains="leaver")
        .exists()
    )
    assert AuditEvent.objects.for_org(org).filter(action="auth.login", actor=admin_user).exists()


def test_an_invitation_is_sent_opened_and_accepted_as_the_app_role(
    app_role_connection, org, member, client, mailoutbox
):
    from django.contrib.auth import get_user_model

    from tenancy.models import Invitation
    from tests.conftest import log_in
    from tests.tenancy.invitations import invitation_path

    member(Role.ADMIN, organization=org, username="ada")
    app_role_connection()
    assert log_in(client, "ada", "a-long-test-password-1")
    invited = client.post(
        reverse("portal:invitation-create", kwargs={"org": org.slug}),
        {"email": "ivy@example.com", "role": "responder"},
    )
    assert invited.status_code == 302
    client.post(reverse("logout"))
    link = invitation_path(mailoutbox[-1])
    assert client.get(link).status_code == 200
    password = "ivys-own-passphrase-1"
    joined = client.post(
        link, {"username": "ivy", "password": password, "password_again": password}
    )
    assert joined.status_code == 302
    assert client.get(joined["Location"]).status_code == 200
    assert client.get(link).status_code == 404  # used up
    sql("RESET ROLE")
    ivy = get_user_model().objects.get(username="ivy")
    assert Membership.objects.for_org(org).get(user=ivy).role == Role.RESPONDER
    assert Invitation.objects.for_org(org).get().accepted_by == ivy
    assert AuditEvent.objects.for_org(org).filter(action="invitation.accepted").exists()


def test_tenant_context_is_how_tasks_and_scripts_see_one_organization(
    app_role_connection, org, other_org
):
    for organization in (org, other_org):
        services.team_create(organization=organization, actor=None, slug="ops", name="Ops")
    app_role_connection()
    with rls.tenant_context(other_org.pk):
        assert sql("SELECT DISTINCT organization_id FROM tenancy_team") == [(other_org.pk,)]
    with transaction.atomic():
        assert sql("SELECT count(*) FROM tenancy_team") == [(0,)]


def test_tables_a_later_migration_creates_as_the_owner_are_granted_to_the_app_role(db):
    """setup_database_roles runs as a superuser; the next release's migrate runs as the
    owner, and the app role can use the tables it creates without running it again."""
    owner = "beacon_test_owner"
    sql(f"CREATE ROLE {owner}")  # all of it is rolled back with the test's transaction
    sql(f"GRANT CREATE ON SCHEMA public TO {owner}")
    sql(f"ALTER TABLE django_migrations OWNER TO {owner}")
    call_command("setup_database_roles", "--app-role", APP_ROLE, stdout=io.StringIO())
    with as_role(owner):
        sql("CREATE TABLE later_release (id bigserial PRIMARY KEY, name text)")
    with as_role(APP_ROLE):
        sql("INSERT INTO later_release (name) VALUES ('x')")
        assert sql("SELECT name FROM later_release") == [("x",)]
