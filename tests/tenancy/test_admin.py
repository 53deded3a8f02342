import re

import pytest
from django.urls import reverse

from tenancy import keys, services
from tenancy.models import (
    ApiKey,
    Invitation,
    Membership,
    Organization,
    Role,
    Team,
    TeamMembership,
)
from tests.admin_forms import shown
from tests.conftest import see

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"


@pytest.fixture
def teams(org, other_org):
    return {
        "ours": services.team_create(organization=org, actor=None, slug="ours", name="Our team"),
        "theirs": services.team_create(
            organization=other_org, actor=None, slug="theirs", name="Their team"
        ),
    }


def change_url(obj):
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def changelist_url(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_organization_admins_log_in_without_staff_flag(client, member, role):
    user = member(role)
    assert not user.is_staff
    response = client.post(
        reverse("admin:login"), {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.REPORTER, Role.STAKEHOLDER])
def test_other_roles_cannot_use_the_admin(client, member, role):
    user = member(role)
    response = client.post(
        reverse("admin:login"), {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 302
    assert client.get(changelist_url(Team)).status_code == 302


def test_changelists_show_only_own_organization(client_for, member, org, other_org, teams):
    stranger = member(Role.RESPONDER, organization=other_org, username="stranger")
    services.api_key_create(organization=other_org, actor=None, name="their-key")
    client = client_for(member(Role.ADMIN, username="ouradmin"))
    for model, hidden in [
        (Team, "Their team"),
        (Membership, stranger.username),
        (ApiKey, "their-key"),
        (Organization, "Globex"),
    ]:
        response = client.get(changelist_url(model))
        assert response.status_code == 200, model
        assert hidden not in response.content.decode(), model
    assert "Our team" in client.get(changelist_url(Team)).content.decode()


def test_other_organizations_objects_answer_404(client_for, member, org, other_org, teams):
    foreign_member = Membership.objects.unscoped().get(
        user=member(Role.ADMIN, organization=other_org, username="stranger")
    )
    foreign_key, _ = services.api_key_create(organization=other_org, actor=None, name="theirs")
    client = client_for(member(Role.OWNER))
    for obj in (teams["theirs"], foreign_member, foreign_key, other_org):
        meta = obj._meta
        for view in ("change", "delete", "history"):
            target = reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])
            assert client.get(target).status_code == 404, target
        assert client.post(change_url(obj), {"name": "Hijacked"}).status_code == 404
    assert Team.objects.unscoped().get(pk=teams["theirs"].pk).name == "Their team"
    assert Organization.objects.get(pk=other_org.pk).name == "Globex"


def test_foreign_organization_and_users_are_not_offered(client_for, member, org, other_org, teams):
    member(Role.REPORTER, organization=other_org, username="stranger")
    client = client_for(member(Role.ADMIN))
    add_team = client.get(reverse("admin:tenancy_team_add")).content.decode()
    assert "Globex" not in add_team
    change_team = client.get(change_url(teams["ours"])).content.decode()
    assert "stranger" not in change_team


def test_cannot_create_in_another_organization_by_posting_its_id(
    client_for, member, org, other_org
):
    client = client_for(member(Role.ADMIN))
    response = client.post(
        reverse("admin:tenancy_team_add"),
        {
            "organization": other_org.pk,
            "slug": "planted",
            "name": "Planted",
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "organization" in response.context["adminform"].form.errors
    assert not Team.objects.unscoped().filter(slug="planted").exists()


def test_admin_adds_team_with_members_inline(client_for, member, org):
    responder = member(Role.RESPONDER, username="responder")
    client = client_for(member(Role.ADMIN))
    response = client.post(
        reverse("admin:tenancy_team_add"),
        {
            "organization": org.pk,
            "slug": "db",
            "name": "Databases",
            "description": "",
            "memberships-TOTAL_FORMS": 1,
            "memberships-INITIAL_FORMS": 0,
            "memberships-0-user": responder.pk,
            "memberships-0-role": "lead",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    team = Team.objects.for_org(org).get(slug="db")
    tm = TeamMembership.objects.unscoped().get(team=team)
    assert (tm.user, tm.role, tm.organization_id) == (responder, "lead", org.pk)


def test_admins_invite_in_the_admin_and_cannot_add_accounts_directly(
    client_for, member, make_user, org, mailoutbox, django_capture_on_commit_callbacks
):
    make_user("existing")
    client = client_for(member(Role.ADMIN))
    # No direct adding: the add page is refused and the old way (username, e-mail) too.
    assert client.get(reverse("admin:tenancy_membership_add")).status_code == 403
    refused = client.post(
        reverse("admin:tenancy_membership_add"),
        {"organization": org.pk, "username": "existing", "email": "existing@example.com"},
    )
    assert refused.status_code == 403
    assert not Membership.objects.for_org(org).filter(user__username="existing").exists()
    changelist = client.get(changelist_url(Membership)).content.decode()
    assert reverse("admin:tenancy_invitation_add") in changelist

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:tenancy_invitation_add"),
            {"organization": org.pk, "email": "newbie@example.com", "role": "responder"},
        )
    assert response.status_code == 302, response.content.decode()
    invitation = Invitation.objects.for_org(org).get()
    assert (invitation.email, invitation.role) == ("newbie@example.com", Role.RESPONDER)
    assert [m.to for m in mailoutbox] == [["newbie@example.com"]]
    assert not Membership.objects.for_org(org).filter(user__email="newbie@example.com").exists()


def test_admin_cannot_invite_an_owner_in_admin(client_for, member, org):
    client = client_for(member(Role.ADMIN))
    response = client.post(
        reverse("admin:tenancy_invitation_add"),
        {"organization": org.pk, "email": "wannabe@example.com", "role": "owner"},
    )
    assert response.status_code == 200
    assert "Only an owner" in response.content.decode()
    assert not Invitation.objects.for_org(org).exists()


def test_a_superuser_adds_an_existing_account_in_the_admin(client_for, make_user, org):
    root = make_user("root", is_superuser=True, is_staff=True)
    existing = make_user("existing")
    client = client_for(root)
    response = client.post(
        reverse("admin:tenancy_membership_add"),
        {"organization": org.pk, "user": existing.pk, "role": "admin"},
    )
    assert response.status_code == 302, response.content.decode()
    assert Membership.objects.for_org(org).get(user=existing).role == Role.ADMIN
    again = client.post(
        reverse("admin:tenancy_membership_add"),
        {"organization": org.pk, "user": existing.pk, "role": "admin"},
    )
    assert again.status_code == 200
    assert "a member already" in again.content.decode()


def test_last_owner_cannot_be_demoted_in_admin(client_for, member, org):
    owner = member(Role.OWNER, username="solo")
    client = client_for(owner)
    membership = Membership.objects.unscoped().get(user=owner)
    response = client.post(change_url(membership), {"role": "admin"})
    assert response.status_code == 200
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.unscoped().get(pk=membership.pk).role == Role.OWNER


def test_api_key_created_in_admin_is_shown_once_and_works(client_for, member, org, api_client_for):
    client = client_for(member(Role.ADMIN))
    response = client.post(
        reverse("admin:tenancy_apikey_add"),
        {"organization": org.pk, "name": "Prometheus", "role": "responder"},
        follow=True,
    )
    text = response.content.decode()
    raw = re.search(r"bcn_[0-9A-Za-z]{38}", text).group(0)
    api_key = ApiKey.objects.unscoped().get(name="Prometheus")
    assert api_key.key_hash == keys.digest(raw)
    assert raw not in client.get(change_url(api_key)).content.decode()
    url = reverse("organization", kwargs={"org": org.slug})
    assert api_client_for(raw).get(url).status_code == 200


def test_revoke_action(client_for, member, org, api_client_for):
    api_key, raw = services.api_key_create(organization=org, actor=None, name="old")
    client = client_for(member(Role.ADMIN))
    client.post(changelist_url(ApiKey), {"action": "revoke", "_selected_action": [api_key.pk]})
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    url = reverse("organization", kwargs={"org": org.slug})
    assert api_client_for(raw).get(url).status_code == 401


def test_owner_edits_own_organization_but_not_slug(client_for, member, org):
    client = client_for(member(Role.OWNER))
    response = client.post(
        change_url(org), {"name": "Acme Renamed", "timezone": "Europe/Paris", "slug": "x"}
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.name, str(org.timezone), org.slug) == ("Acme Renamed", "Europe/Paris", "acme")


def test_admin_role_cannot_edit_organization_settings(client_for, member, org):
    client = client_for(member(Role.ADMIN))
    assert client.post(change_url(org), {"name": "Nope", "timezone": "UTC"}).status_code == 403
    assert Organization.objects.get(pk=org.pk).name == "Acme"


def test_superuser_sees_every_organization(client_for, make_user, org, other_org, teams):
    root = make_user("root", is_superuser=True, is_staff=True)
    content = client_for(root).get(changelist_url(Team)).content.decode()
    assert "Our team" in content
    assert "Their team" in content


def inline(prefix, rows, initial=0):
    data = {f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": initial}
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


def test_editing_a_team_with_members(client_for, member, org):
    admin_user = member(Role.ADMIN)
    responder = member(Role.RESPONDER)
    team = services.team_create(organization=org, actor=None, slug="db", name="Databases")
    place = services.team_member_add(organization=org, actor=None, team=team, user=responder)
    client = client_for(admin_user)
    response = client.post(
        change_url(team),
        {
            "slug": "db",
            "name": "Database SRE",
            "description": "",
            **inline(
                "memberships",
                [{"id": place.pk, "team": team.pk, "user": responder.pk, "role": "lead"}],
                initial=1,
            ),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    team.refresh_from_db()
    place.refresh_from_db()
    assert (team.name, place.role) == ("Database SRE", "lead")


def test_a_foreign_row_id_in_an_inline_is_refused(client_for, member, org, other_org):
    theirs = services.team_create(organization=other_org, actor=None, slug="x", name="X")
    stranger = member(Role.RESPONDER, organization=other_org)
    foreign_place = services.team_member_add(
        organization=other_org, actor=None, team=theirs, user=stranger
    )
    team = services.team_create(organization=org, actor=None, slug="db", name="Databases")
    client = client_for(member(Role.ADMIN))
    response = client.post(
        change_url(team),
        {
            "slug": "db",
            "name": "Databases",
            "description": "",
            **inline(
                "memberships",
                [{"id": foreign_place.pk, "team": team.pk, "user": stranger.pk, "role": "lead"}],
                initial=1,
            ),
        },
    )
    assert response.status_code == 200
    see(org, other_org)
    foreign_place.refresh_from_db()
    assert (foreign_place.team, foreign_place.role) == (theirs, "member")


def test_the_same_person_twice_in_a_team_is_a_form_error(client_for, member, org):
    responder = member(Role.RESPONDER)
    client = client_for(member(Role.ADMIN))
    response = client.post(
        reverse("admin:tenancy_team_add"),
        {
            "organization": org.pk,
            "slug": "db",
            "name": "Databases",
            **inline("memberships", [{"user": responder.pk}, {"user": responder.pk}]),
        },
    )
    assert response.status_code == 200
    assert "in the team already" in response.content.decode()
    assert not Team.objects.unscoped().filter(slug="db").exists()


def test_admin_of_two_organizations(client_for, member, make_org, org, other_org, teams):
    hidden = make_org("initech", "Initech Secret")
    services.team_create(organization=hidden, actor=None, slug="h", name="Hidden team")
    user = member(Role.ADMIN)
    services.membership_create(organization=other_org, actor=None, user=user, role=Role.ADMIN)
    client = client_for(user)
    listing = client.get(changelist_url(Team)).content.decode()
    assert "Our team" in listing
    assert "Their team" in listing
    assert "Hidden team" not in listing
    assert "Initech Secret" not in listing  # not even as a filter choice
    # A team cannot be moved to the other organization.
    response = client.post(
        change_url(teams["ours"]),
        {"organization": other_org.pk, "slug": "ours", "name": "Our team", "description": ""}
        | inline("memberships", []),
    )
    assert response.status_code == 302
    assert Team.objects.unscoped().get(pk=teams["ours"].pk).organization == org


def test_owner_memberships_cannot_be_deleted_by_admins_or_when_last(client_for, member, org):
    owner = member(Role.OWNER, username="solo")
    membership = Membership.objects.for_org(org).get(user=owner)
    delete = reverse("admin:tenancy_membership_delete", args=[membership.pk])
    assert client_for(member(Role.ADMIN)).post(delete, {"post": "yes"}).status_code == 403
    assert client_for(owner).post(delete, {"post": "yes"}).status_code == 403
    assert Membership.objects.for_org(org).filter(pk=membership.pk).exists()
    second = member(Role.OWNER)
    assert client_for(second).post(delete, {"post": "yes"}).status_code == 302
    assert not Membership.objects.for_org(org).filter(pk=membership.pk).exists()


def test_superusers_also_need_a_second_factor_where_required(client_for, make_user, org):
    org.require_two_factor = True
    org.save()
    root = make_user("root", is_superuser=True, is_staff=True)
    response = client_for(root).get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:two-factor"))


def test_organizations_are_never_deleted_in_the_admin(client_for, make_user, org):
    root = make_user("root", is_superuser=True, is_staff=True)
    delete = reverse("admin:tenancy_organization_delete", args=[org.pk])
    assert client_for(root).post(delete, {"post": "yes"}).status_code == 403
    assert Organization.objects.filter(pk=org.pk).exists()


def test_team_member_choices_follow_the_teams_organization(
    client_for, operator, member, org, other_org, teams
):
    ours = member(Role.RESPONDER, username="ours-person")
    theirs = member(Role.RESPONDER, organization=other_org, username="theirs-person")
    client = client_for(operator)
    page = client.get(change_url(teams["ours"]))
    [inline] = page.context["inline_admin_formsets"]
    offered = set(inline.formset.empty_form.fields["user"].queryset)
    assert ours in offered
    assert theirs not in offered
    row = {
        "memberships-TOTAL_FORMS": 1,
        "memberships-0-team": teams["ours"].pk,
        "memberships-0-role": "member",
    }
    refused = client.post(
        change_url(teams["ours"]), shown(page, **row, **{"memberships-0-user": theirs.pk})
    )
    assert refused.status_code == 200
    see(org, other_org)
    assert not TeamMembership.objects.unscoped().exists()
    added = client.post(
        change_url(teams["ours"]), shown(page, **row, **{"memberships-0-user": ours.pk})
    )
    assert added.status_code == 302
    assert TeamMembership.objects.unscoped().get().user == ours
