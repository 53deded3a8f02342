"""Invitations: a link by e-mail that makes its addressee a member.

Each function is keyword-only, names the organization and the actor, and runs in one
transaction. ``actor=None`` means the system (a management command).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core import mail
from core.errors import Conflict, DomainError
from tenancy import audit, rls, tokens
from tenancy.models import (
    Invitation,
    Membership,
    Role,
)
from tenancy.services.accounts import _email_validate, user_create, username_validate
from tenancy.services.members import _check_role_grant, _membership_insert

User = get_user_model()

OPEN_INVITATION = "An invitation to that address is open already: resend it instead."
INVITATION_GONE = (
    "This invitation is no longer valid: it expired, was used or was withdrawn. "
    "Ask the person who invited you to send a new one."
)


def invitation_validate(
    *, organization, actor, email: str, role: str = Role.REPORTER, username: str = ""
) -> tuple[str, str]:
    """The normalized (email, username) of a new invitation, or the DomainError it meets.

    The answer never depends on accounts outside the organization: whether the address
    or the username is known elsewhere is not the inviter's business.
    """
    _check_role_grant(organization=organization, actor=actor, role=role)
    email = _email_validate(email)
    username = username_validate(username) if username else ""
    if Membership.objects.for_org(organization).filter(user__email__iexact=email).exists():
        raise Conflict("A member has that e-mail address already.", field="email")
    if Invitation.objects.for_org(organization).open().filter(email__iexact=email).exists():
        raise Conflict(OPEN_INVITATION, field="email")
    return email, username


@rls.in_tenant
def invitation_create(
    *, organization, actor, email: str, role: str = Role.REPORTER, username: str = ""
) -> Invitation:
    """Invites a person by e-mail; the link goes to that address only, never to the actor."""
    email, username = invitation_validate(
        organization=organization, actor=actor, email=email, role=role, username=username
    )
    invitation = Invitation(
        organization=organization,
        email=email,
        role=role,
        username=username,
        invited_by=actor if getattr(actor, "pk", None) else None,
    )
    token = _invitation_issue(invitation)
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as exc:  # a concurrent invitation to the same address
        raise Conflict(OPEN_INVITATION, field="email") from exc
    audit.record(
        organization=organization,
        actor=actor,
        action="invitation.created",
        target=invitation,
        after=audit.snapshot(invitation, ["email", "role", "username", "expires_at"]),
    )
    _invitation_send(organization=organization, actor=actor, invitation=invitation, token=token)
    return invitation


def invitation_valid_days() -> int:
    return int(getattr(settings, "INVITATION_VALID_DAYS", 7))


def _invitation_issue(invitation: Invitation) -> str:
    """A new secret (any earlier link stops working) and a new expiry; returns the token."""
    token, invitation.token_hash = tokens.new()
    sent = timezone.now()
    invitation.sent_at = sent
    invitation.expires_at = sent + timedelta(days=invitation_valid_days())
    invitation.send_count += 1
    return token


def _invitation_send(*, organization, actor, invitation: Invitation, token: str) -> None:
    """Renders the e-mail inside the transaction; it leaves once the transaction commits."""
    inviter = None
    if getattr(actor, "pk", None):
        inviter = actor.get_full_name() or actor.get_username()
    context = {
        "organization": organization,
        "invitation": invitation,
        "inviter": inviter,
        "link": mail.absolute_url(reverse("portal:invitation", kwargs={"token": token})),
        "expires_at": invitation.expires_at,
    }
    mail.send_after_commit("tenancy/invitation", context, to=[invitation.email])


def _invitation_locked(organization, invitation: Invitation) -> Invitation:
    return Invitation.objects.for_org(organization).select_for_update().get(pk=invitation.pk)


@rls.in_tenant
def invitation_resend(*, organization, actor, invitation: Invitation) -> Invitation:
    """A new link (the old one stops working) and a new expiry, mailed again."""
    invitation = _invitation_locked(organization, invitation)
    if not invitation.is_open:
        raise Conflict(
            f"This invitation was {invitation.get_status_display().lower()}; "
            "invite the person again instead.",
            field="status",
        )
    token = _invitation_issue(invitation)
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at", "send_count"])
    audit.record(
        organization=organization,
        actor=actor,
        action="invitation.resent",
        target=invitation,
        after={"expires_at": invitation.expires_at, "send_count": invitation.send_count},
    )
    _invitation_send(organization=organization, actor=actor, invitation=invitation, token=token)
    return invitation


@rls.in_tenant
def invitation_revoke(*, organization, actor, invitation: Invitation) -> Invitation:
    """The link stops working. Revoking twice changes nothing; an accepted one stays."""
    invitation = _invitation_locked(organization, invitation)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was accepted: remove the member instead.", field="status")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(
            organization=organization, actor=actor, action="invitation.revoked", target=invitation
        )
    return invitation


@rls.in_tenant
def invitation_accept(*, organization, invitation: Invitation, user) -> Membership:
    """The logged-in ``user`` joins with the invitation's role; the link is used up."""
    invitation = _invitation_locked(organization, invitation)
    if invitation.status != Invitation.Status.PENDING:
        raise Conflict(INVITATION_GONE)
    if Membership.objects.for_org(organization).filter(user=user).exists():
        raise Conflict(f"You are a member of {organization.name} already.")
    membership = _membership_insert(
        organization=organization, actor=user, user=user, role=invitation.role
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        organization=organization,
        actor=user,
        action="invitation.accepted",
        target=invitation,
        after={"username": user.username, "role": invitation.role},
    )
    return membership


@rls.in_tenant
def invitation_accept_new(
    *,
    organization,
    invitation: Invitation,
    username: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
) -> Membership:
    """A new account joins: the username and password its holder chose, the e-mail address
    the link was sent to. One transaction: a refusal leaves no account behind."""
    if _invitation_locked(organization, invitation).status != Invitation.Status.PENDING:
        raise Conflict(INVITATION_GONE)
    if invitation_address_has_account(invitation):
        raise Conflict(
            "An account with this e-mail address exists: log in to accept the invitation.",
            field="username",
        )
    if not password:
        raise DomainError("Choose a password.", field="password")
    user = user_create(
        username=username,
        email=invitation.email,
        password=password,
        first_name=first_name,
        last_name=last_name,
    )
    return invitation_accept(organization=organization, invitation=invitation, user=user)


def invitation_address_has_account(invitation: Invitation) -> bool:
    return User.objects.filter(email__iexact=invitation.email, is_active=True).exists()
