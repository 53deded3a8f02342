import pytest
from django.urls import reverse

from tenancy import services
from tenancy.models import Role

pytestmark = pytest.mark.django_db


def portal(name, org, **kwargs):
    return reverse(f"portal:{name}", kwargs={"org": org.slug, **kwargs})


@pytest.fixture
def teams(org, other_org, member):
    ours = services.team_create(organization=org, actor=None, slug="platform", name="Platform SRE")
    theirs = services.team_create(
        organization=other_org, actor=None, slug="hidden", name="Hidden Ops"
    )
    stranger = member(Role.OWNER, organization=other_org, username="stranger")
    services.team_member_add(organization=other_org, actor=None, team=theirs, user=stranger)
    return {"ours": ours, "theirs": theirs}


def test_anonymous_is_sent_to_login(client, org):
    for target in (reverse("portal:index"), portal("home", org), portal("team-list", org)):
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_login_page_logs_in_and_lands_on_the_only_organization(client, member, org):
    user = member(Role.REPORTER)
    response = client.post(
        reverse("login"), {"username": user.username, "password": "a-long-test-password-1"}
    )
    assert response.status_code == 302
    landing = client.get(response["Location"])
    assert landing.status_code == 302
    assert landing["Location"] == portal("home", org)


def test_wrong_password_is_refused(client, member):
    user = member()
    response = client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_several_organizations_get_a_picker_and_switcher(client_for, member, org, other_org):
    user = member(Role.RESPONDER)
    services.membership_create(organization=other_org, actor=None, user=user, role=Role.REPORTER)
    client = client_for(user)
    picker = client.get(reverse("portal:index")).content.decode()
    assert "Acme" in picker
    assert "Globex" in picker
    home = client.get(portal("home", other_org)).content.decode()
    assert "reporter of this organization" in home
    assert portal("home", org) in home  # the switcher links to the other organization


@pytest.mark.parametrize("role", list(Role))
def test_every_role_sees_the_shell(client_for, member, org, teams, role):
    client = client_for(member(role))
    for target in (
        portal("home", org),
        portal("team-list", org),
        portal("team-detail", org, team="platform"),
    ):
        assert client.get(target).status_code == 200, target


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.RESPONDER])
def test_responders_and_up_see_members_with_email_and_role(client_for, member, org, role):
    member(Role.REPORTER, username="zed")
    client = client_for(member(role))
    home = client.get(portal("home", org)).content.decode()
    assert portal("member-list", org) in home
    page = client.get(portal("member-list", org)).content.decode()
    assert "<td>zed@example.com</td><td>Reporter</td>" in page


@pytest.mark.parametrize("role", [Role.REPORTER, Role.STAKEHOLDER])
def test_reporters_and_stakeholders_do_not_see_members(client_for, member, org, role):
    member(Role.RESPONDER, username="zed")
    client = client_for(member(role))
    home = client.get(portal("home", org)).content.decode()
    assert portal("member-list", org) not in home  # neither the card nor the navigation
    for query in ({}, {"q": "zed@example.com"}):
        response = client.get(portal("member-list", org), query)
        assert response.status_code == 403
        assert "zed" not in response.content.decode()


def test_admin_link_only_for_administrators(client_for, member, org):
    assert (
        reverse("admin:index")
        in client_for(member(Role.ADMIN)).get(portal("home", org)).content.decode()
    )
    assert (
        reverse("admin:index")
        not in client_for(member(Role.RESPONDER)).get(portal("home", org)).content.decode()
    )


def test_other_organization_pages_answer_404(client_for, member, org, other_org, teams):
    client = client_for(member(Role.OWNER))
    for target in (
        portal("home", other_org),
        portal("team-list", other_org),
        portal("member-list", other_org),
        portal("team-detail", other_org, team="hidden"),
        portal("team-detail", org, team="hidden"),
        "/o/no-such-org/",
    ):
        response = client.get(target)
        assert response.status_code == 404, target
        assert "Hidden" not in response.content.decode()


def test_pages_list_only_own_organization(client_for, member, org, teams):
    client = client_for(member(Role.RESPONDER))
    teams_page = client.get(portal("team-list", org)).content.decode()
    assert "Platform SRE" in teams_page
    assert "Hidden Ops" not in teams_page
    members_page = client.get(portal("member-list", org)).content.decode()
    assert "stranger" not in members_page


def test_member_search_and_role_filter(client_for, member, org):
    member(Role.REPORTER, username="zed")
    client = client_for(member(Role.RESPONDER, username="yves"))
    found = client.get(portal("member-list", org), {"q": "zed"}).content.decode()
    assert "<td>zed</td>" in found
    assert "<td>yves</td>" not in found
    by_role = client.get(portal("member-list", org), {"role": "responder"}).content.decode()
    assert "<td>yves</td>" in by_role
    assert "<td>zed</td>" not in by_role
    assert client.get(portal("member-list", org), {"role": "bogus"}).status_code == 200
    assert client.get(portal("member-list", org), {"role": "bogus\x00"}).status_code == 400


@pytest.mark.parametrize("size", [1, 30])
def test_member_page_query_count_is_constant(
    client_for, member, org, teams, size, django_assert_max_num_queries
):
    for _ in range(size):
        services.team_member_add(organization=org, actor=None, team=teams["ours"], user=member())
    client = client_for(member(Role.ADMIN))  # members, and the open invitations
    with django_assert_max_num_queries(14):
        assert client.get(portal("member-list", org)).status_code == 200


def test_a_member_of_nothing_is_told_how_to_join(client_for, make_user):
    page = client_for(make_user()).get(reverse("portal:index")).content.decode()
    assert "not a member of any organization yet" in page
    assert "invites you by e-mail" in page


def test_the_superusers_first_visit_explains_what_to_do(client_for, make_user, org, other_org):
    other_org.require_two_factor = True
    other_org.save()
    root = make_user("root", is_superuser=True, is_staff=True)
    page = client_for(root).get(reverse("portal:index")).content.decode()
    assert "You are not a member of any organization yet" not in page
    assert reverse("admin:index") in page
    assert portal("home", org) in page
    assert portal("home", other_org) in page
    assert "Requires two-factor authentication" in page
    assert "set up an authenticator app" in page
    assert reverse("portal:two-factor") in page


def test_the_superuser_without_strict_organizations_needs_no_two_factor_step(
    client_for, make_user, org
):
    root = make_user("root", is_superuser=True, is_staff=True)
    page = client_for(root).get(reverse("portal:index")).content.decode()
    assert "authenticator app" not in page
    assert client_for(root).get(portal("home", org)).status_code == 200


def test_logout(client_for, member, org):
    client = client_for(member())
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(portal("home", org)).status_code == 302
