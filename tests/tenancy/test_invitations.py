"""Invitations: how a person joins an organization, choosing their own credentials.

The e-mail is read from pytest-django's ``mailoutbox``; e-mails leave once the transaction
that wrote the invitation commits, hence ``django_capture_on_commit_callbacks``.
"""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict, DomainError, Forbidden
from tenancy import services
from tenancy.models import AuditEvent, Invitation, Membership, Role
from tests.conftest import PASSWORD, log_in, see
from tests.tenancy.invitations import invitation_link, invitation_path

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "my-own-secret-passphrase-7"


def api(org, name, **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


def portal(name, org, **kwargs):
    return reverse(f"portal:{name}", kwargs={"org": org.slug, **kwargs})


@pytest.fixture
def invite(org, mailoutbox, django_capture_on_commit_callbacks):
    """invite(email, role=…, organization=org, actor=None) -> (invitation, link path)."""

    def make(email="newbie@example.com", role=Role.RESPONDER, organization=None, **kwargs):
        actor = kwargs.pop("actor", None)
        with django_capture_on_commit_callbacks(execute=True):
            invitation = services.invitation_create(
                organization=organization or org, actor=actor, email=email, role=role, **kwargs
            )
        assert mailoutbox[-1].to == [email]
        return invitation, invitation_path(mailoutbox[-1])

    return make


def new_account(username="newbie", password=NEW_PASSWORD, **extra):
    return {"username": username, "password": password, "password_again": password, **extra}


def events(organization, action):
    return list(AuditEvent.objects.for_org(organization).filter(action=action).order_by("id"))


# The defect: an admin of one organization planted credentials on an account another
# organization later added ------------------------------------------------------------------


def test_an_admin_cannot_plant_credentials_on_an_account_another_organization_adds(
    api_client_for, member, org, other_org, mailoutbox, django_capture_on_commit_callbacks
):
    bob_email = "bob@globex.example"
    attacker = api_client_for(member(Role.ADMIN, organization=org, username="mallory"))
    # Acme's admin creates "bob" with an address of Globex and a password they choose ...
    planted = attacker.post(
        api(org, "member-list"),
        {"username": "bob", "email": bob_email, "password": "mallory-knows-this-1"},
    )
    assert planted.status_code == 400
    assert "password" in planted.json()
    # ... and would then remove the membership, leaving the account behind: there is none.
    assert attacker.delete(api(org, "member-detail", username="bob")).status_code == 404
    assert not User.objects.filter(username="bob").exists()
    # Even an invitation to bob's address from Acme creates no account and no membership.
    with django_capture_on_commit_callbacks(execute=True):
        attacker.post(api(org, "member-list"), {"username": "bob", "email": bob_email})
    assert not User.objects.filter(email=bob_email).exists()

    # Globex's admin later adds bob by username and e-mail, as they used to.
    globex_admin = api_client_for(member(Role.ADMIN, organization=other_org))
    with django_capture_on_commit_callbacks(execute=True):
        added = globex_admin.post(
            api(other_org, "member-list"),
            {"username": "bob", "email": bob_email, "role": "admin"},
        )
    assert added.status_code == 202
    assert not Membership.objects.for_org(other_org).filter(user__email=bob_email).exists()

    # Only bob, who reads his mail, chooses the credentials; Acme's password opens nothing.
    assert mailoutbox[-1].to == [bob_email]
    bob_client = Client()
    joined = bob_client.post(invitation_path(mailoutbox[-1]), new_account("bob"))
    assert joined.status_code == 302
    bob = User.objects.get(username="bob")
    assert Membership.objects.for_org(other_org).get(user=bob).role == Role.ADMIN
    assert not Membership.objects.for_org(org).filter(user=bob).exists()
    assert not log_in(Client(), "bob", "mallory-knows-this-1")
    assert log_in(Client(), "bob", NEW_PASSWORD)


def test_only_the_shell_and_superusers_add_existing_accounts_directly(
    member, make_user, org, other_org
):
    admin = member(Role.ADMIN)
    owner = member(Role.OWNER)
    someone = make_user("someone")
    for actor in (admin, owner):
        with pytest.raises(Forbidden):
            services.membership_create(organization=org, actor=actor, user=someone)
    assert not Membership.objects.for_org(org).filter(user=someone).exists()
    root = make_user("root", is_superuser=True, is_staff=True)
    services.membership_create(organization=org, actor=root, user=someone, role=Role.ADMIN)
    services.membership_create(organization=other_org, actor=None, user=someone)
    assert Membership.objects.for_org(org).get(user=someone).role == Role.ADMIN


# Accepting ---------------------------------------------------------------------------------


def test_the_invitee_chooses_username_and_password_and_lands_in_the_organization(
    client, org, invite
):
    invitation, link = invite(username="suggested", role=Role.RESPONDER)
    page = client.get(link)
    assert page.status_code == 200
    content = page.content.decode()
    assert "Join Acme" in content
    assert 'value="suggested"' in content  # the suggestion, which they may change
    assert "newbie@example.com" in content

    response = client.post(
        link, new_account("newbie", first_name="New\u202e", last_name="\u2066Bie")
    )
    assert response.status_code == 302
    assert response["Location"] == portal("home", org)
    user = User.objects.get(username="newbie")
    assert (user.email, user.get_full_name()) == ("newbie@example.com", "New Bie")
    assert user.check_password(NEW_PASSWORD)
    assert Membership.objects.for_org(org).get(user=user).role == Role.RESPONDER
    assert client.get(portal("home", org)).status_code == 200  # logged in
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_by) == ("accepted", user)
    (accepted,) = events(org, "invitation.accepted")
    assert accepted.actor == user


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (new_account("<script>x</script>"), "username", "letters, numbers"),
        (new_account("spaced user"), "username", "letters, numbers"),
        (new_account(""), "username", "required"),
        (new_account("newbie", password="123"), "password", "too short"),
        (new_account("newbie", password="newbie@example.com1"), "password", "similar"),
        ({**new_account("newbie"), "password_again": "something-else-99"}, "password_again", ""),
    ],
)
def test_bad_credentials_are_field_errors_and_nothing_is_created(
    client, org, invite, data, field, message
):
    invitation, link = invite()
    response = client.post(link, data)
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field]).lower()
    assert not User.objects.filter(email="newbie@example.com").exists()
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_a_taken_username_is_a_field_error(client, org, invite):
    services.user_create(username="Newbie", email="someone@example.com", password=PASSWORD)
    _, link = invite()
    response = client.post(link, new_account("newbie"))
    assert response.status_code == 400
    assert "exists already" in " ".join(response.context["form"].errors["username"])


def test_the_link_works_once(client, org, invite):
    _, link = invite()
    assert client.post(link, new_account("first")).status_code == 302
    other = Client()
    assert other.get(link).status_code == 404
    assert "not valid" in other.get(link).content.decode()
    assert other.post(link, new_account("second")).status_code == 404
    assert not User.objects.filter(username="second").exists()
    assert Membership.objects.for_org(org).filter(user__email="newbie@example.com").count() == 1


def test_the_link_expires(client, org, invite, settings):
    settings.INVITATION_VALID_DAYS = 3
    invitation, link = invite()
    assert invitation.expires_at - invitation.sent_at == timedelta(days=3)
    with time_machine.travel(invitation.expires_at - timedelta(minutes=1)):
        assert client.get(link).status_code == 200
    with time_machine.travel(invitation.expires_at + timedelta(seconds=1)):
        assert client.get(link).status_code == 404
        assert client.post(link, new_account()).status_code == 404
        assert Invitation.objects.for_org(org).get().status == "expired"
    assert not User.objects.filter(username="newbie").exists()


def test_a_revoked_link_is_void(client, org, invite, member):
    admin = member(Role.ADMIN)
    invitation, link = invite(actor=admin)
    services.invitation_revoke(organization=org, actor=admin, invitation=invitation)
    assert client.get(link).status_code == 404
    assert client.post(link, new_account()).status_code == 404
    assert not User.objects.filter(username="newbie").exists()
    (revoked,) = events(org, "invitation.revoked")
    assert revoked.actor == admin
    # Revoking again changes nothing; an accepted invitation cannot be revoked.
    services.invitation_revoke(organization=org, actor=admin, invitation=invitation)
    assert len(events(org, "invitation.revoked")) == 1
    accepted, other_link = invite("second@example.com")
    assert client.post(other_link, new_account("second")).status_code == 302
    with pytest.raises(Conflict):
        services.invitation_revoke(organization=org, actor=admin, invitation=accepted)


def test_resending_voids_the_old_link_and_renews_the_term(
    client, org, invite, member, mailoutbox, django_capture_on_commit_callbacks
):
    admin = member(Role.ADMIN)
    invitation, old_link = invite(actor=admin)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        with django_capture_on_commit_callbacks(execute=True):
            services.invitation_resend(organization=org, actor=admin, invitation=invitation)
        resent = Invitation.objects.for_org(org).get()
        assert resent.expires_at > invitation.expires_at
        assert resent.send_count == 2
        new_link = invitation_path(mailoutbox[-1])
        assert new_link != old_link
        assert client.get(old_link).status_code == 404
        assert client.post(new_link, new_account()).status_code == 302
    (resent_event,) = events(org, "invitation.resent")
    assert resent_event.actor == admin
    with pytest.raises(Conflict):
        services.invitation_resend(organization=org, actor=admin, invitation=resent)


@pytest.mark.parametrize(
    "token",
    ["nonsense", "a" * 43 + ":" + "b" * 43, "%00", "x:y:z"],
)
def test_a_forged_or_mangled_link_is_not_found(client, org, invite, token):
    invite()
    response = client.get(reverse("portal:invitation", kwargs={"token": token}))
    assert response.status_code == 404


def test_a_tampered_link_is_not_found(client, org, invite):
    _, link = invite()
    secret, signature = link.rstrip("/").rsplit("/", 1)[1].split(":")
    other = "B" if secret[0] == "A" else "A"  # a character it does not have there
    tampered = reverse("portal:invitation", kwargs={"token": f"{other}{secret[1:]}:{signature}"})
    assert client.get(tampered).status_code == 404


def test_an_inactive_organization_accepts_nobody(client, org, invite):
    _, link = invite()
    org.is_active = False
    org.save()
    assert client.get(link).status_code == 404
    assert client.post(link, new_account()).status_code == 404


def test_an_existing_account_accepts_while_logged_in(client, org, other_org, invite, member):
    carol = member(Role.REPORTER, organization=other_org, username="carol")
    invitation, link = invite("carol@example.com", role=Role.RESPONDER)
    # Logged out: the address has an account, so the page asks to log in; no form.
    page = client.get(link).content.decode()
    assert "Log in to accept" in page
    assert f"{reverse('login')}?next={link}" in page
    assert 'name="password"' not in page
    client.post(link, new_account("carol2"))
    assert not User.objects.filter(username="carol2").exists()
    # Logged in through the login page with ?next=, back to the link, accepted.
    login = client.post(reverse("login"), {"username": "carol", "password": PASSWORD, "next": link})
    assert login["Location"] == link
    assert "logged in as <strong>carol</strong>" in client.get(link).content.decode()
    accepted = client.post(link)
    assert accepted["Location"] == portal("home", org)
    assert Membership.objects.for_org(org).get(user=carol).role == Role.RESPONDER
    assert carol.check_password(PASSWORD)  # nothing about the account changed
    invitation.refresh_from_db()
    assert invitation.accepted_by == carol


def test_a_member_already_is_told_so_and_the_invitation_stays(client_for, org, invite, member):
    present = member(Role.REPORTER, username="present")
    invitation, link = invite("someone-else@example.com")
    response = client_for(present).post(link)
    assert response.status_code == 409
    assert "member of Acme already" in response.content.decode()
    assert Membership.objects.for_org(org).get(user=present).role == Role.REPORTER
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_joining_as_admin_of_a_strict_organization_goes_to_two_factor(client, org, invite):
    org.require_two_factor = True
    org.save()
    _, link = invite(role=Role.ADMIN)
    home = client.post(link, new_account())
    assert home["Location"] == portal("home", org)
    response = client.get(home["Location"])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:two-factor"))


def test_the_mail_names_the_organization_role_inviter_and_term(org, invite, member, mailoutbox):
    alice = member(Role.OWNER, username="alice")
    alice.first_name, alice.last_name = "Alice", "Owens"
    alice.save()
    invite(actor=alice, role=Role.ADMIN)
    message = mailoutbox[-1]
    assert message.subject == "Alice Owens invited you to join Acme on Beacon"
    assert "as admin" in message.body
    assert invitation_link(message).startswith("http://localhost:8000/invitations/")


def test_the_link_starts_at_the_configured_address(org, invite, settings, mailoutbox):
    settings.BEACON_URL = "https://beacon.example.com/"
    invite()
    assert invitation_link(mailoutbox[-1]).startswith("https://beacon.example.com/invitations/")


# Validating invitations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "x@example.com", "username": "<script>x</script>"}, "username"),
        ({"email": "x@example.com", "username": "spaced user"}, "username"),
    ],
)
def test_invitation_input_is_validated(org, kwargs, field):
    with pytest.raises(DomainError) as caught:
        services.invitation_create(organization=org, actor=None, **kwargs)
    assert caught.value.field == field
    assert not Invitation.objects.for_org(org).exists()


@pytest.mark.parametrize("username", ["<script>x</script>", "spaced user", "", "x" * 151])
def test_accounts_are_created_with_valid_usernames_only(username):
    with pytest.raises(DomainError) as caught:
        services.user_create(username=username, email="x@example.com", password=NEW_PASSWORD)
    assert caught.value.field == "username"
    assert not User.objects.filter(email="x@example.com").exists()


def test_one_open_invitation_per_address(org, other_org, invite):
    invite("twice@example.com")
    with pytest.raises(Conflict):
        services.invitation_create(organization=org, actor=None, email="TWICE@example.com")
    invite("twice@example.com", organization=other_org)  # another organization's own
    assert Invitation.objects.for_org(org).count() == 1


def test_only_owners_invite_owners(org, member):
    with pytest.raises(Forbidden):
        services.invitation_create(
            organization=org, actor=member(Role.ADMIN), email="o@example.com", role=Role.OWNER
        )
    services.invitation_create(
        organization=org, actor=member(Role.OWNER), email="o@example.com", role=Role.OWNER
    )


# The API: invitations/ ----------------------------------------------------------------------


def test_admins_create_list_resend_and_revoke_invitations_in_the_api(
    api_client_for, member, org, mailoutbox, django_capture_on_commit_callbacks
):
    client = api_client_for(member(Role.ADMIN, username="ada"))
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            api(org, "invitation-list"), {"email": "ivy@example.com", "role": "responder"}
        )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["email"], body["role"], body["status"], body["invited_by"]) == (
        "ivy@example.com",
        "responder",
        "pending",
        "ada",
    )
    assert "token" not in created.content.decode()
    first_link = invitation_path(mailoutbox[-1])
    assert first_link not in created.content.decode()

    detail = api(org, "invitation-detail", invitation=body["id"])
    listing = client.get(api(org, "invitation-list")).json()["results"]
    assert [i["email"] for i in listing] == ["ivy@example.com"]
    assert client.get(detail).json()["send_count"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        resent = client.post(api(org, "invitation-resend", invitation=body["id"]))
    assert resent.status_code == 200
    assert resent.json()["send_count"] == 2
    assert len(mailoutbox) == 2
    assert Client().get(first_link).status_code == 404

    assert client.delete(detail).status_code == 204
    assert client.get(detail).json()["status"] == "revoked"
    assert Client().get(invitation_path(mailoutbox[-1])).status_code == 404
    assert client.post(api(org, "invitation-resend", invitation=body["id"])).status_code == 409
    assert [i["status"] for i in client.get(api(org, "invitation-list")).json()["results"]] == [
        "revoked"
    ]


def test_invitation_list_filters_by_status(api_client_for, member, org, invite, client):
    _, link = invite("accepted@example.com")
    client.post(link, new_account("accepted"))
    invite("pending@example.com")
    expired, _ = invite("expired@example.com")
    Invitation.objects.for_org(org).filter(pk=expired.pk).update(expires_at=timezone.now())
    api_client = api_client_for(member(Role.OWNER))
    for status, email in [
        ("pending", "pending@example.com"),
        ("expired", "expired@example.com"),
        ("accepted", "accepted@example.com"),
    ]:
        found = api_client.get(api(org, "invitation-list"), {"status": status}).json()
        assert [i["email"] for i in found["results"]] == [email], status
    assert api_client.get(api(org, "invitation-list"), {"status": "bogus"}).status_code == 400


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.REPORTER, Role.STAKEHOLDER])
def test_only_owners_and_admins_see_and_manage_invitations(
    api_client_for, api_key_for, member, org, invite, role
):
    invitation, _link = invite()
    for principal in (member(role), api_key_for(role)):
        client = api_client_for(principal)
        detail = api(org, "invitation-detail", invitation=invitation.pk)
        assert client.get(api(org, "invitation-list")).status_code == 403
        assert client.get(detail).status_code == 403
        created = client.post(api(org, "invitation-list"), {"email": "x@example.com"})
        assert created.status_code == 403
        assert client.delete(detail).status_code == 403
        resend = client.post(api(org, "invitation-resend", invitation=invitation.pk))
        assert resend.status_code == 403
    invitation.refresh_from_db()
    assert (invitation.status, invitation.send_count) == ("pending", 1)
    assert Invitation.objects.for_org(org).count() == 1


@pytest.mark.parametrize("credential", ["session", "api_key"])
def test_another_organizations_invitations_answer_404(
    api_client_for, api_key_for, member, org, other_org, invite, credential
):
    theirs, _link = invite("secret@example.com", organization=other_org)
    principal = member(Role.OWNER) if credential == "session" else api_key_for(Role.OWNER)
    client = api_client_for(principal)
    for target in (
        api(org, "invitation-detail", invitation=theirs.pk),
        api(other_org, "invitation-detail", invitation=theirs.pk),
    ):
        assert client.get(target).status_code == 404
        assert client.delete(target).status_code == 404
    for org_of_url in (org, other_org):
        resend = api(org_of_url, "invitation-resend", invitation=theirs.pk)
        assert client.post(resend).status_code == 404
    assert client.get(api(other_org, "invitation-list")).status_code == 404
    assert (
        client.post(api(other_org, "invitation-list"), {"email": "x@example.com"}).status_code
        == 404
    )
    assert "secret@example.com" not in client.get(api(org, "invitation-list")).content.decode()
    see(org, other_org)
    theirs.refresh_from_db()
    assert (theirs.status, theirs.send_count) == ("pending", 1)


@pytest.mark.parametrize("page_size", [1, 50])
def test_invitation_list_query_count_is_constant(
    api_client_for, member, org, page_size, django_assert_max_num_queries
):
    admin = member(Role.ADMIN)
    for index in range(12):
        services.invitation_create(organization=org, actor=admin, email=f"p{index}@example.com")
    client = api_client_for(admin)
    with django_assert_max_num_queries(10):  # as many as the member list, whatever the size
        response = client.get(api(org, "invitation-list"), {"page_size": page_size})
    assert len(response.json()["results"]) == min(page_size, 12)


# The portal members page ------------------------------------------------------------------


def test_admins_invite_from_the_members_page(
    client_for, member, org, mailoutbox, django_capture_on_commit_callbacks
):
    client = client_for(member(Role.ADMIN))
    response = client.get(portal("member-list", org))
    assert portal("invitation-create", org) in response.content.decode()
    roles = [value for value, _ in response.context["invite_form"].fields["role"].choices]
    assert roles == ["admin", "responder", "reporter", "stakeholder"]  # no owners
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            portal("invitation-create", org),
            {"email": "ivy@example.com", "role": "responder", "username": "ivy"},
        )
    assert response.status_code == 302
    assert mailoutbox[-1].to == ["ivy@example.com"]
    page = client.get(portal("member-list", org)).content.decode()
    assert "Invited ivy@example.com" in page
    assert "<td>ivy@example.com</td><td>Responder</td>" in page
    invitation = Invitation.objects.for_org(org).get()
    assert portal("invitation-resend", org, invitation=invitation.pk) in page
    assert portal("invitation-revoke", org, invitation=invitation.pk) in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "nope", "role": "responder"}, "valid email"),
        ({"email": "x@example.com", "role": "owner"}, "valid choice"),
        ({"email": "x@example.com", "role": "reporter", "username": "spaced user"}, "letters"),
    ],
)
def test_a_refused_invitation_is_a_form_error(client_for, member, org, data, message):
    client = client_for(member(Role.ADMIN))
    response = client.post(portal("invitation-create", org), data)
    assert response.status_code == 400
    assert message in response.content.decode().lower()
    assert not Invitation.objects.for_org(org).exists()


def test_owners_may_invite_owners_from_the_members_page(client_for, member, org):
    client = client_for(member(Role.OWNER))
    form = client.get(portal("member-list", org)).context["invite_form"]
    assert "owner" in [value for value, _ in form.fields["role"].choices]
    response = client.post(
        portal("invitation-create", org), {"email": "o@example.com", "role": "owner"}
    )
    assert response.status_code == 302
    assert Invitation.objects.for_org(org).get().role == Role.OWNER


def test_resend_and_revoke_from_the_members_page(
    client_for, member, org, invite, mailoutbox, django_capture_on_commit_callbacks
):
    invitation, old_link = invite()
    client = client_for(member(Role.ADMIN))
    with django_capture_on_commit_callbacks(execute=True):
        resent = client.post(portal("invitation-resend", org, invitation=invitation.pk))
    assert resent.status_code == 302
    assert Client().get(old_link).status_code == 404
    new_link = invitation_path(mailoutbox[-1])
    revoked = client.post(portal("invitation-revoke", org, invitation=invitation.pk))
    assert revoked.status_code == 302
    assert Client().get(new_link).status_code == 404
    page = client.get(portal("member-list", org)).content.decode()
    assert "Revoked the invitation to newbie@example.com" in page
    assert "<td>newbie@example.com</td>" not in page  # no longer open
    assert client.get(portal("invitation-revoke", org, invitation=invitation.pk)).status_code == 405


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.REPORTER, Role.STAKEHOLDER])
def test_other_roles_neither_see_nor_use_the_invitation_controls(
    client_for, member, org, invite, role
):
    invitation, _link = invite()
    client = client_for(member(role))
    page = client.get(portal("member-list", org))
    assert portal("invitation-create", org) not in page.content.decode()
    assert "newbie@example.com" not in page.content.decode()
    created = client.post(portal("invitation-create", org), {"email": "x@example.com"})
    assert created.status_code == 403
    for name in ("invitation-resend", "invitation-revoke"):
        assert client.post(portal(name, org, invitation=invitation.pk)).status_code == 403
    invitation.refresh_from_db()
    assert (invitation.status, invitation.send_count) == ("pending", 1)
    assert Invitation.objects.for_org(org).count() == 1


def test_another_organizations_invitations_are_404_in_the_portal(
    client_for, member, org, other_org, invite
):
    theirs, _ = invite("secret@example.com", organization=other_org)
    client = client_for(member(Role.OWNER))
    for org_of_url in (org, other_org):
        for name in ("invitation-resend", "invitation-revoke"):
            response = client.post(portal(name, org_of_url, invitation=theirs.pk))
            assert response.status_code == 404
    response = client.post(portal("invitation-create", other_org), {"email": "x@example.com"})
    assert response.status_code == 404
    assert "secret@example.com" not in client.get(portal("member-list", org)).content.decode()
    see(org, other_org)
    theirs.refresh_from_db()
    assert (theirs.status, theirs.send_count) == ("pending", 1)
    assert not Invitation.objects.for_org(other_org).filter(email="x@example.com").exists()


# The admin --------------------------------------------------------------------------------


def test_the_admin_lists_own_invitations_and_resends_or_revokes_them(
    client_for, member, org, other_org, invite, mailoutbox, django_capture_on_commit_callbacks
):
    ours, _ = invite("ours@example.com")
    theirs, _ = invite("theirs@example.com", organization=other_org)
    client = client_for(member(Role.ADMIN))
    changelist = reverse("admin:tenancy_invitation_changelist")
    content = client.get(changelist).content.decode()
    assert "ours@example.com" in content
    assert "theirs@example.com" not in content
    assert client.get(reverse("admin:tenancy_invitation_change", args=[ours.pk])).status_code == 200
    theirs_page = client.get(reverse("admin:tenancy_invitation_change", args=[theirs.pk]))
    assert theirs_page.status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            changelist,
            {"action": "resend", "_selected_action": [ours.pk, theirs.pk]},
        )
    assert [m.to for m in mailoutbox[-1:]] == [["ours@example.com"]]
    client.post(changelist, {"action": "revoke", "_selected_action": [ours.pk, theirs.pk]})
    see(org, other_org)
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, ours.send_count) == ("revoked", 2)
    assert (theirs.status, theirs.send_count) == ("pending", 1)
    # Never edited nor deleted: the history of each invitation stays.
    delete = reverse("admin:tenancy_invitation_delete", args=[ours.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Invitation.objects.for_org(org).filter(pk=ours.pk).exists()


def test_the_admin_refuses_an_invitation_into_another_organization(
    client_for, member, org, other_org
):
    client = client_for(member(Role.ADMIN))
    response = client.post(
        reverse("admin:tenancy_invitation_add"),
        {"organization": other_org.pk, "email": "x@example.com", "role": "reporter"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Invitation.objects.for_org(other_org).exists()


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.REPORTER, Role.STAKEHOLDER])
def test_other_roles_have_no_invitation_admin(client_for, member, org, invite, role):
    invitation, _ = invite()
    client = client_for(member(role))
    for target in (
        reverse("admin:tenancy_invitation_changelist"),
        reverse("admin:tenancy_invitation_add"),
        reverse("admin:tenancy_invitation_change", args=[invitation.pk]),
    ):
        assert client.get(target).status_code == 302  # to the admin's login


def test_the_admin_refuses_a_second_open_invitation_with_a_form_error(
    client_for, member, org, invite
):
    invite("twice@example.com")
    client = client_for(member(Role.ADMIN))
    response = client.post(
        reverse("admin:tenancy_invitation_add"),
        {"organization": org.pk, "email": "TWICE@example.com", "role": "reporter"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["An invitation to that address is open already: resend it instead."]
    }
    assert Invitation.objects.for_org(org).count() == 1


def test_the_mail_gives_the_term_in_the_organizations_time_zone(org, invite, mailoutbox):
    org.timezone = "Europe/Berlin"
    org.save()
    with time_machine.travel("2026-07-01 10:00:00+00:00", tick=False):
        invite()
    assert "until 8 July 2026, 12:00 CEST" in mailoutbox[-1].body
