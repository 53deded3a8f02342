import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tenancy import services
from tenancy.models import AuditEvent, Role
from tests.conftest import PASSWORD
from tests.tenancy.invitations import invitation_path

User = get_user_model()

pytestmark = pytest.mark.django_db


def events(organization, **filters):
    return list(AuditEvent.objects.for_org(organization).filter(**filters).order_by("id"))


def test_member_and_role_changes_are_recorded_with_actor_ip_and_values(
    api_client_for, client, member, org, mailoutbox, django_capture_on_commit_callbacks
):
    owner = member(Role.OWNER, username="boss")
    api = api_client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            reverse("member-list", kwargs={"org": org.slug}),
            {"email": "newbie@example.com", "role": "responder"},
            REMOTE_ADDR="203.0.113.9",
        )
    (invited,) = events(org, action__startswith="invitation.")
    assert (invited.action, invited.actor, invited.ip_address) == (
        "invitation.created",
        owner,
        "203.0.113.9",
    )
    assert invited.after["email"] == "newbie@example.com"
    assert invited.after["role"] == "responder"

    link = invitation_path(mailoutbox[-1])
    client.post(
        link,
        {"username": "newbie", "password": PASSWORD, "password_again": PASSWORD},
        REMOTE_ADDR="198.51.100.4",
    )
    newbie = User.objects.get(username="newbie")
    accepted = events(org, action="invitation.accepted")[0]
    assert (accepted.actor, accepted.ip_address) == (newbie, "198.51.100.4")
    assert accepted.target_id == invited.target_id

    api.patch(
        reverse("member-detail", kwargs={"org": org.slug, "username": "newbie"}),
        {"role": "admin"},
        REMOTE_ADDR="203.0.113.9",
    )
    api.delete(reverse("member-detail", kwargs={"org": org.slug, "username": "newbie"}))
    added, changed, removed = events(
        org, action__startswith="member.", target_label__startswith="newbie"
    )
    assert (added.action, added.actor, added.after) == (
        "member.added",
        newbie,
        {"username": "newbie", "role": "responder"},
    )
    assert (changed.actor, changed.before, changed.after) == (
        owner,
        {"role": "responder"},
        {"role": "admin"},
    )
    assert (removed.action, removed.actor) == ("member.removed", owner)
    assert removed.before == {"username": "newbie", "role": "admin"}
    assert changed.actor_label == "boss"
    assert changed.ip_address == "203.0.113.9"


def test_key_creation_and_revocation_are_recorded(org, member, api_key_for, api_client_for):
    admin = member(Role.ADMIN)
    api_key, _ = services.api_key_create(organization=org, actor=admin, name="CI", role="responder")
    services.api_key_revoke(organization=org, actor=admin, api_key=api_key)
    created, revoked = events(org, action__startswith="api_key.")
    assert created.after["name"] == "CI"
    assert created.after["prefix"] == api_key.prefix
    assert "key_hash" not in created.after
    assert revoked.action == "api_key.revoked"
    assert revoked.target_id == str(api_key.pk)


def test_changes_made_with_an_api_key_name_the_key(org, api_key_for, api_client_for):
    client = api_client_for(api_key_for(Role.ADMIN))
    client.post(reverse("team-list", kwargs={"org": org.slug}), {"slug": "db", "name": "DB"})
    (event,) = events(org, action="team.created")
    assert event.actor is None
    assert event.actor_label.startswith("API key test (bcn_")
    assert event.after == {"slug": "db", "name": "DB", "description": ""}


def test_logins_and_failed_logins_are_recorded_in_each_organization(client, member, org, other_org):
    user = member(Role.RESPONDER, username="carol")
    services.membership_create(organization=other_org, actor=None, user=user, role=Role.REPORTER)
    client.post(
        reverse("login"), {"username": "carol", "password": "wrong"}, REMOTE_ADDR="198.51.100.7"
    )
    client.post(reverse("login"), {"username": "carol", "password": PASSWORD})
    for organization in (org, other_org):
        failed, login = events(organization, action__startswith="auth.")
        assert (failed.action, failed.actor, failed.actor_label) == (
            "auth.login_failed",
            None,
            "carol (failed login)",
        )
        assert failed.ip_address == "198.51.100.7"
        assert (login.action, login.actor) == ("auth.login", user)


def test_admin_changes_are_recorded(client_for, member, org):
    owner = member(Role.OWNER)
    client = client_for(owner)
    client.post(
        reverse("admin:tenancy_organization_change", args=[org.pk]),
        {"name": "Acme Renamed", "timezone": "UTC"},
    )
    (event,) = events(org, action="organization.updated")
    assert (event.before, event.after) == ({"name": "Acme"}, {"name": "Acme Renamed"})
    client.post(
        reverse("admin:tenancy_team_add"),
        {
            "organization": org.pk,
            "slug": "db",
            "name": "Databases",
            "memberships-TOTAL_FORMS": 1,
            "memberships-INITIAL_FORMS": 0,
            "memberships-0-user": owner.pk,
            "memberships-0-role": "lead",
        },
    )
    assert [e.action for e in events(org, actor=owner, action__startswith="team")] == [
        "team.created",
        "teammembership.created",
    ]


def test_the_log_is_append_only(org, member):
    services.team_create(organization=org, actor=None, slug="t", name="T")
    event = AuditEvent.objects.for_org(org).get()
    event.action = "forged"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.for_org(org).update(action="forged")
    with pytest.raises(TypeError):
        AuditEvent.objects.for_org(org).delete()
    assert AuditEvent.objects.for_org(org).get().action == "team.created"


@pytest.mark.postgres
def test_the_app_role_cannot_rewrite_the_log(org):
    from django.db import connection, transaction

    services.team_create(organization=org, actor=None, slug="t", name="T")
    with connection.cursor() as cursor:  # the suite is connected as the app role
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        with pytest.raises(Exception, match="permission denied"), transaction.atomic():
            cursor.execute("UPDATE tenancy_auditevent SET action = 'forged'")
        with pytest.raises(Exception, match="permission denied"), transaction.atomic():
            cursor.execute("DELETE FROM tenancy_auditevent")
        cursor.execute("SELECT count(*) FROM tenancy_auditevent")
        assert cursor.fetchone() == (1,)


def test_owners_read_the_log_in_the_portal_with_filters(client_for, member, org):
    owner = member(Role.OWNER)
    services.team_create(organization=org, actor=owner, slug="db", name="Databases")
    client = client_for(owner)
    page = client.get(reverse("portal:audit-log", kwargs={"org": org.slug}))
    text = page.content.decode()
    assert "team.created" in text
    assert "Databases" in text
    filtered = client.get(
        reverse("portal:audit-log", kwargs={"org": org.slug}), {"action": "member.added"}
    ).content.decode()
    assert "<code>team.created</code>" not in filtered
    assert "<code>member.added</code>" in filtered


def test_the_portal_log_pages_by_id(client_for, member, org, settings):
    from tenancy import views

    owner = member(Role.OWNER)
    for index in range(views.AUDIT_PAGE_SIZE + 5):
        services.team_create(organization=org, actor=owner, slug=f"t{index}", name=f"Team {index}")
    client = client_for(owner)
    first = client.get(
        reverse("portal:audit-log", kwargs={"org": org.slug}), {"action": "team.created"}
    )
    assert "Team 54" in first.content.decode()
    assert "Team 4<" not in first.content.decode()
    older = first.context["older"]
    second = client.get(
        reverse("portal:audit-log", kwargs={"org": org.slug}),
        {"action": "team.created", "before": older},
    ).content.decode()
    shown = {f"Team {i}" for i in range(5) if f">Team {i}<" in second}
    assert shown == {f"Team {i}" for i in range(5)}
    assert ">Team 5<" not in second


@pytest.mark.parametrize("role", [Role.ADMIN, Role.RESPONDER, Role.REPORTER, Role.STAKEHOLDER])
def test_only_owners_read_the_log(client_for, api_client_for, api_key_for, member, org, role):
    user = member(role)
    assert (
        client_for(user).get(reverse("portal:audit-log", kwargs={"org": org.slug})).status_code
        == 403
    )
    url = reverse("audit-event-list", kwargs={"org": org.slug})
    assert api_client_for(user).get(url).status_code == 403
    assert api_client_for(api_key_for(role)).get(url).status_code == 403
    home = client_for(user).get(reverse("portal:home", kwargs={"org": org.slug})).content.decode()
    assert "Audit log" not in home


def test_the_log_never_shows_another_organization(
    client_for, api_client_for, member, org, other_org
):
    services.team_create(organization=other_org, actor=None, slug="secret", name="Secret Ops")
    owner = member(Role.OWNER)
    services.team_create(organization=org, actor=owner, slug="ours", name="Ours")
    portal = client_for(owner).get(reverse("portal:audit-log", kwargs={"org": org.slug}))
    assert "Secret Ops" not in portal.content.decode()
    api = api_client_for(owner).get(reverse("audit-event-list", kwargs={"org": org.slug}))
    assert "Secret Ops" not in api.content.decode()
    assert (
        client_for(owner)
        .get(reverse("portal:audit-log", kwargs={"org": other_org.slug}))
        .status_code
        == 404
    )
    admin = client_for(owner).get(reverse("admin:tenancy_auditevent_changelist"))
    assert admin.status_code == 200
    assert "Secret Ops" not in admin.content.decode()
    assert "Ours" in admin.content.decode()


@pytest.mark.parametrize("page_size", [1, 50])
def test_api_lists_with_constant_queries(
    api_client_for, member, org, page_size, django_assert_max_num_queries
):
    owner = member(Role.OWNER)
    for index in range(60):
        services.team_create(organization=org, actor=owner, slug=f"t{index}", name=f"T{index}")
    client = api_client_for(owner)
    url = reverse("audit-event-list", kwargs={"org": org.slug})
    with django_assert_max_num_queries(10):
        response = client.get(url, {"page_size": page_size, "action": "team.created"})
    body = response.json()
    assert len(body["results"]) == page_size
    assert body["results"][0]["after"]["name"] == "T59"
    assert body["results"][0]["actor_username"] == owner.username


def test_owner_portal_page_query_count_is_constant(
    client_for, member, org, django_assert_max_num_queries
):
    owner = member(Role.OWNER)
    for index in range(60):
        services.team_create(organization=org, actor=owner, slug=f"t{index}", name=f"T{index}")
    client = client_for(owner)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("portal:audit-log", kwargs={"org": org.slug})).status_code == 200
