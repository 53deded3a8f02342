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
from tests.conftest import PASSWORD, log_in
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

    response = client.post(link, new_account("newbie", first_name="New", last_name="Bie"))
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
    tampered = reverse("portal:invitation", kwargs={"token": f"{secret[:-1]}A:{signature}"})
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
