import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tenancy import services
from tenancy.models import Invitation, Membership, Role, Team, TeamMembership
from tests.conftest import see

pytestmark = pytest.mark.django_db
User = get_user_model()


def url(org, name="organization", **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


@pytest.fixture
def team(org, member):
    team = services.team_create(organization=org, actor=None, slug="platform", name="Platform")
    services.team_member_add(organization=org, actor=None, team=team, user=member(Role.RESPONDER))
    return team


@pytest.fixture
def foreign(other_org, member):
    """Another organization's team, member and key: never reachable from `org`."""
    team = services.team_create(organization=other_org, actor=None, slug="secret", name="Secret")
    user = member(Role.OWNER, organization=other_org, username="stranger")
    services.team_member_add(organization=other_org, actor=None, team=team, user=user)
    return {"team": team, "user": user}


# --- organization resolution and authentication -------------------------------------------


def test_unauthenticated_gets_401_with_bearer_challenge(api_client_for, org):
    response = api_client_for().get(url(org))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer nonsense", "Bearer", "Bearer a b", "Bearer bcn_" + "x" * 38]
)
def test_malformed_or_unknown_keys_get_401(api_client_for, org, header):
    client = api_client_for()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(url(org)).status_code == 401


def test_key_sees_its_organization_and_role(api_client_for, api_key_for, org):
    response = api_client_for(api_key_for(Role.STAKEHOLDER)).get(url(org))
    assert response.status_code == 200
    assert response.json() == {
        "slug": "acme",
        "name": "Acme",
        "timezone": "UTC",
        "created_at": response.json()["created_at"],
        "role": "stakeholder",
    }


def test_member_sees_organization_with_session(api_client_for, member, org):
    response = api_client_for(member(Role.REPORTER)).get(url(org))
    assert response.status_code == 200
    assert response.json()["role"] == "reporter"


def test_inactive_organization_is_404(api_client_for, member, org):
    user = member(Role.OWNER)
    org.is_active = False
    org.save()
    assert api_client_for(user).get(url(org)).status_code == 404


def test_superuser_reaches_any_organization(api_client_for, make_user, org):
    root = make_user("root", is_superuser=True, is_staff=True)
    assert api_client_for(root).get(url(org)).json()["role"] == "owner"


# --- tenant isolation: every endpoint, both kinds of credentials ---------------------------


def foreign_urls(org, other_org, foreign):
    """Every tenancy endpoint addressed at another organization's objects."""
    return [
        ("get", url(other_org)),
        ("get", url(other_org, "team-list")),
        ("post", url(other_org, "team-list")),
        ("get", url(other_org, "team-detail", slug="secret")),
        ("patch", url(other_org, "team-detail", slug="secret")),
        ("delete", url(other_org, "team-detail", slug="secret")),
        ("get", url(other_org, "team-member-list", team="secret")),
        ("post", url(other_org, "team-member-list", team="secret")),
        ("delete", url(other_org, "team-member-detail", team="secret", username="stranger")),
        ("get", url(other_org, "member-list")),
        ("post", url(other_org, "member-list")),
        ("get", url(other_org, "member-detail", username="stranger")),
        ("patch", url(other_org, "member-detail", username="stranger")),
        ("delete", url(other_org, "member-detail", username="stranger")),
        # The right organization in the URL, another organization's object in it.
        ("get", url(org, "team-detail", slug="secret")),
        ("patch", url(org, "team-detail", slug="secret")),
        ("delete", url(org, "team-detail", slug="secret")),
        ("get", url(org, "team-member-list", team="secret")),
        ("post", url(org, "team-member-list", team="secret")),
        ("get", url(org, "member-detail", username="stranger")),
        ("patch", url(org, "member-detail", username="stranger")),
        ("delete", url(org, "member-detail", username="stranger")),
    ]


@pytest.mark.parametrize("credential", ["owner_session", "owner_key"])
def test_other_organizations_objects_answer_404_and_change_nothing(
    api_client_for, api_key_for, member, org, other_org, foreign, credential
):
    principal = member(Role.OWNER) if credential == "owner_session" else api_key_for(Role.OWNER)
    client = api_client_for(principal)
    before = (
        Team.objects.unscoped().count(),
        Membership.objects.unscoped().count(),
        TeamMembership.objects.unscoped().count(),
    )
    for method, target in foreign_urls(org, other_org, foreign):
        body = {"slug": "x", "name": "X", "username": "stranger", "role": "owner"}
        response = getattr(client, method)(target, body, format="json")
        assert response.status_code == 404, (method, target, response.content)
        assert b"secret" not in response.content.lower()
        assert b"stranger" not in response.content
    after = (
        Team.objects.unscoped().count(),
        Membership.objects.unscoped().count(),
        TeamMembership.objects.unscoped().count(),
    )
    assert after == before
    assert Team.objects.unscoped().get(pk=foreign["team"].pk).name == "Secret"


def test_foreign_user_cannot_be_added_to_a_team_by_username(
    api_client_for, member, org, team, foreign
):
    client = api_client_for(member(Role.ADMIN))
    response = client.post(url(org, "team-member-list", team=team.slug), {"username": "stranger"})
    assert response.status_code == 400
    assert "username" in response.json()
    assert not TeamMembership.objects.unscoped().filter(user=foreign["user"], team=team).exists()


def test_lists_only_show_own_organization(api_client_for, member, org, team, foreign):
    client = api_client_for(member(Role.RESPONDER))
    teams = client.get(url(org, "team-list")).json()["results"]
    assert [t["slug"] for t in teams] == ["platform"]
    members = client.get(url(org, "member-list")).json()["results"]
    assert "stranger" not in {m["username"] for m in members}


# --- teams --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OWNER, True),
        (Role.ADMIN, True),
        (Role.RESPONDER, False),
        (Role.REPORTER, False),
        (Role.STAKEHOLDER, False),
    ],
)
def test_only_admins_write_teams(api_client_for, member, api_key_for, org, team, role, allowed):
    for principal in (member(role), api_key_for(role)):
        client = api_client_for(principal)
        assert client.get(url(org, "team-list")).status_code == 200
        assert client.get(url(org, "team-detail", slug="platform")).status_code == 200
        created = client.post(url(org, "team-list"), {"slug": "db", "name": "Databases"})
        changed = client.patch(url(org, "team-detail", slug="platform"), {"name": "Renamed"})
        assert created.status_code == (201 if allowed else 403)
        assert changed.status_code == (200 if allowed else 403)
        if allowed:
            assert client.delete(url(org, "team-detail", slug="db")).status_code == 204
        else:
            assert client.delete(url(org, "team-detail", slug="platform")).status_code == 403
    assert Team.objects.for_org(org).get(slug="platform").name == (
        "Renamed" if allowed else "Platform"
    )
    assert not Team.objects.unscoped().filter(slug="db").exists()


def test_team_create_validates_and_rejects_duplicates(api_client_for, member, org, team):
    client = api_client_for(member(Role.ADMIN))
    bad = client.post(url(org, "team-list"), {"slug": "no spaces!", "name": ""})
    assert bad.status_code == 400
    assert set(bad.json()) == {"slug", "name"}
    duplicate = client.post(url(org, "team-list"), {"slug": "platform", "name": "Again"})
    assert duplicate.status_code == 409
    assert "slug" in duplicate.json()
    huge = client.post(url(org, "team-list"), {"slug": "ok", "name": "x" * 5000})
    assert huge.status_code == 400
    assert Team.objects.for_org(org).count() == 1


def test_same_team_slug_in_two_organizations(api_client_for, member, org, other_org, foreign):
    client = api_client_for(member(Role.ADMIN))
    assert client.post(url(org, "team-list"), {"slug": "secret", "name": "Ours"}).status_code == 201
    see(org, other_org)
    assert Team.objects.unscoped().filter(slug="secret").count() == 2


def test_team_members_add_change_and_remove(api_client_for, member, org, team):
    admin = member(Role.ADMIN)
    newcomer = member(Role.RESPONDER, username="newcomer")
    client = api_client_for(admin)
    members_url = url(org, "team-member-list", team="platform")
    added = client.post(members_url, {"username": "newcomer", "role": "lead"})
    assert added.status_code == 201, added.content
    assert added.json()["role"] == "lead"
    listing = client.get(members_url).json()["results"]
    assert {m["username"] for m in listing} == {
        "newcomer",
        *[u.username for u in team.members.exclude(pk=newcomer.pk)],
    }
    detail = url(org, "team-member-detail", team="platform", username="newcomer")
    assert client.delete(detail).status_code == 204
    assert not team.memberships.filter(user=newcomer).exists()


def test_team_list_filters(api_client_for, member, org, team):
    services.team_create(organization=org, actor=None, slug="network", name="Network Ops")
    client = api_client_for(member(Role.RESPONDER))
    assert [
        t["slug"] for t in client.get(url(org, "team-list"), {"q": "netw"}).json()["results"]
    ] == ["network"]
    username = team.members.first().username
    found = client.get(url(org, "team-list"), {"member": username}).json()["results"]
    assert [t["slug"] for t in found] == ["platform"]


@pytest.mark.parametrize("page_size", [1, 50])
def test_team_list_query_count_is_constant(
    api_client_for, api_key_for, member, org, page_size, django_assert_max_num_queries
):
    for index in range(12):
        team = services.team_create(
            organization=org, actor=None, slug=f"team-{index}", name=f"Team {index}"
        )
        for _ in range(3):
            services.team_member_add(organization=org, actor=None, team=team, user=member())
    client = api_client_for(api_key_for(Role.RESPONDER))
    with django_assert_max_num_queries(10):
        response = client.get(url(org, "team-list"), {"page_size": page_size})
    assert len(response.json()["results"]) == min(page_size, 12)


def test_team_list_is_cursor_paginated(api_client_for, member, org):
    for index in range(5):
        services.team_create(organization=org, actor=None, slug=f"t{index}", name=f"T{index}")
    client = api_client_for(member(Role.RESPONDER))
    seen, page = [], client.get(url(org, "team-list"), {"page_size": 2}).json()
    while True:
        seen += [t["slug"] for t in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert seen == ["t0", "t1", "t2", "t3", "t4"]
    assert "count" not in page


def test_page_size_is_capped(api_client_for, member, org):
    Team.objects.bulk_create(
        Team(organization=org, slug=f"t{index:03}", name=f"T{index}") for index in range(105)
    )
    response = api_client_for(member()).get(url(org, "team-list"), {"page_size": 100000})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 100
    assert response.json()["next"]


# --- members ------------------------------------------------------------------------------


def test_posting_a_member_invites_them_and_creates_no_account(
    api_client_for, member, make_user, org, mailoutbox, django_capture_on_commit_callbacks
):
    client = api_client_for(member(Role.ADMIN))
    make_user("existing")
    with django_capture_on_commit_callbacks(execute=True):
        invited = client.post(
            url(org, "member-list"),
            {"email": "existing@example.com", "role": "responder", "username": "ignored"},
        )
    assert invited.status_code == 202, invited.content
    body = invited.json()
    assert (body["email"], body["role"], body["status"]) == (
        "existing@example.com",
        "responder",
        "pending",
    )
    assert invited["Location"].endswith(url(org, "invitation-detail", invitation=body["id"]))
    assert [m.to for m in mailoutbox] == [["existing@example.com"]]
    # Nobody joins, and no account comes into being, until the person accepts.
    assert not Membership.objects.for_org(org).filter(user__username="existing").exists()
    assert not User.objects.filter(username="ignored").exists()
    # The link goes to the invitee only: the inviter's answer never carries it.
    assert "/invitations/" not in invited.content.decode()


def test_member_invitation_bad_input(api_client_for, member, org):
    client = api_client_for(member(Role.ADMIN))
    cases = [
        ({"email": "x@example.com", "role": "emperor"}, "role"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "x@example.com", "username": "x" * 500}, "username"),
        ({"email": "x@example.com", "username": "<script>x</script>"}, "username"),
        ({"email": "x@example.com", "username": "spaced user"}, "username"),
        ({"username": "someone"}, "email"),
        ({}, "email"),
    ]
    for body, field in cases:
        response = client.post(url(org, "member-list"), body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())
    body = {"email": "dup@example.com"}
    assert client.post(url(org, "member-list"), body).status_code == 202
    again = client.post(url(org, "member-list"), body)
    assert again.status_code == 409
    assert "resend" in again.json()["email"][0]
    assert Invitation.objects.for_org(org).count() == 1


def test_a_password_is_refused_with_a_clear_400(api_client_for, member, org):
    client = api_client_for(member(Role.ADMIN))
    for body in (
        {"username": "fresh", "email": "fresh@example.com", "password": "a-good-long-passphrase"},
        {"email": "fresh@example.com", "password": ""},
    ):
        response = client.post(url(org, "member-list"), body, format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"password"}
        assert "set their own password" in response.json()["password"][0]
    assert not User.objects.filter(username="fresh").exists()
    assert not Invitation.objects.for_org(org).exists()


def test_inviting_reveals_nothing_about_accounts_elsewhere(api_client_for, member, org, other_org):
    member(Role.REPORTER, organization=other_org, username="stranger")
    client = api_client_for(member(Role.ADMIN))
    known = client.post(url(org, "member-list"), {"email": "stranger@example.com"}).json()
    unknown = client.post(url(org, "member-list"), {"email": "nobody@example.com"}).json()
    ignore = {"id", "email", "created_at", "sent_at", "expires_at"}
    assert {k: v for k, v in known.items() if k not in ignore} == {
        k: v for k, v in unknown.items() if k not in ignore
    }
    assert not Membership.objects.for_org(org).filter(user__username="stranger").exists()
    # Inviting a present member is refused: the organization's own members are no secret.
    member(Role.RESPONDER, username="present")
    response = client.post(url(org, "member-list"), {"email": "PRESENT@example.com"})
    assert response.status_code == 409
    assert set(response.json()) == {"email"}


def test_a_refused_invitation_leaves_nothing_behind(api_client_for, member, org, mailoutbox):
    client = api_client_for(member(Role.ADMIN))
    response = client.post(url(org, "member-list"), {"email": "boss@example.com", "role": "owner"})
    assert response.status_code == 403
    assert set(response.json()) == {"role"}
    assert not Invitation.objects.for_org(org).exists()
    assert mailoutbox == []


def test_only_owners_make_owners(api_client_for, member, org):
    admin_client = api_client_for(member(Role.ADMIN))
    target = member(Role.RESPONDER, username="target")
    detail = url(org, "member-detail", username="target")
    refused = admin_client.patch(detail, {"role": "owner"})
    assert refused.status_code == 403
    assert "role" in refused.json()
    owner_client = api_client_for(member(Role.OWNER))
    assert owner_client.patch(detail, {"role": "owner"}).json()["role"] == "owner"
    # ... and an admin cannot demote or remove that owner either.
    assert admin_client.patch(detail, {"role": "reporter"}).status_code == 403
    assert admin_client.delete(detail).status_code == 403
    assert Membership.objects.unscoped().get(user=target).role == Role.OWNER


def test_last_owner_stays(api_client_for, member, org):
    owner = member(Role.OWNER, username="solo")
    client = api_client_for(owner)
    detail = url(org, "member-detail", username="solo")
    assert client.patch(detail, {"role": "admin"}).status_code == 409
    assert client.delete(detail).status_code == 409
    assert Membership.objects.unscoped().get(user=owner).role == Role.OWNER


def test_removing_a_member_removes_their_team_places(api_client_for, member, org, team):
    client = api_client_for(member(Role.ADMIN))
    leaving = team.members.first()
    assert client.delete(url(org, "member-detail", username=leaving.username)).status_code == 204
    assert not TeamMembership.objects.unscoped().filter(user=leaving).exists()
    assert leaving.__class__.objects.filter(pk=leaving.pk).exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.RESPONDER])
def test_responders_and_up_list_members_with_email_and_role(
    api_client_for, api_key_for, member, org, role
):
    member(Role.REPORTER, username="someone")
    for principal in (member(role), api_key_for(role)):
        client = api_client_for(principal)
        listing = client.get(url(org, "member-list"))
        assert listing.status_code == 200
        someone = next(m for m in listing.json()["results"] if m["username"] == "someone")
        assert (someone["email"], someone["role"]) == ("someone@example.com", "reporter")
        detail = client.get(url(org, "member-detail", username="someone"))
        assert detail.json()["email"] == "someone@example.com"


@pytest.mark.parametrize("role", [Role.REPORTER, Role.STAKEHOLDER])
def test_reporters_and_stakeholders_do_not_list_members(
    api_client_for, api_key_for, member, org, role
):
    member(Role.REPORTER, username="someone")
    for principal in (member(role), api_key_for(role)):
        client = api_client_for(principal)
        for response in (
            client.get(url(org, "member-list")),
            client.get(url(org, "member-list"), {"q": "someone@example.com"}),
            client.get(url(org, "member-detail", username="someone")),
        ):
            assert response.status_code == 403
            assert "someone" not in response.content.decode()


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.REPORTER, Role.STAKEHOLDER])
def test_non_admins_do_not_manage_members(api_client_for, member, org, role):
    client = api_client_for(member(role))
    member(Role.REPORTER, username="someone")
    invited = client.post(url(org, "member-list"), {"email": "new@example.com"})
    assert invited.status_code == 403
    detail = url(org, "member-detail", username="someone")
    assert client.patch(detail, {"role": "admin"}).status_code == 403
    assert client.delete(detail).status_code == 403
    assert Membership.objects.unscoped().get(user__username="someone").role == Role.REPORTER
    assert not Invitation.objects.for_org(org).exists()


def test_member_filters(api_client_for, member, org, team):
    client = api_client_for(member(Role.ADMIN, username="boss"))
    by_role = client.get(url(org, "member-list"), {"role": "admin"}).json()["results"]
    assert [m["username"] for m in by_role] == ["boss"]
    by_team = client.get(url(org, "member-list"), {"team": "platform"}).json()["results"]
    assert [m["username"] for m in by_team] == [u.username for u in team.members.all()]
    assert client.get(url(org, "member-list"), {"role": "emperor"}).status_code == 400


@pytest.mark.parametrize("page_size", [1, 50])
def test_member_list_query_count_is_constant(
    api_client_for, api_key_for, member, org, team, page_size, django_assert_max_num_queries
):
    for _ in range(15):
        services.team_member_add(organization=org, actor=None, team=team, user=member())
    client = api_client_for(api_key_for(Role.RESPONDER))
    with django_assert_max_num_queries(10):
        response = client.get(url(org, "member-list"), {"page_size": page_size})
    assert len(response.json()["results"]) == min(page_size, 16)


@pytest.mark.postgres
@pytest.mark.parametrize("path", ["audit-events", "incidents"])
def test_a_time_filter_with_any_offset_python_accepts_works(api_client_for, api_key_for, path):
    """Python takes offsets up to a day, PostgreSQL up to 15:59: filters compare in UTC."""
    client = api_client_for(api_key_for(Role.OWNER))
    response = client.get(
        f"/api/v1/orgs/acme/{path}/",
        {"created_after": "2026-01-01T00:00:00-23:42", "created_before": "2999-01-01T00:00+23:59"},
    )
    assert response.status_code == 200, response.content
