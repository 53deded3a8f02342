"""Writes to organizations, members, invitations, teams and API keys.

Each function is keyword-only, names the organization and the actor, and runs in one
transaction. ``actor=None`` means the system (a management command).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core import mail
from core.errors import Conflict, DomainError, Forbidden
from tenancy import audit, keys, rls, tokens
from tenancy.models import (
    ApiKey,
    Invitation,
    Membership,
    Organization,
    Role,
    Team,
    TeamMembership,
)

User = get_user_model()


TEAM_FIELDS = ["slug", "name", "description"]


def _may(actor, perm: str, organization: Organization) -> bool:
    return actor is None or actor.has_perm(perm, organization)


def organization_create(*, slug: str, name: str, timezone_name: str = "UTC") -> Organization:
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"An organization with slug {slug!r} exists already.", field="slug")
    try:
        organization = Organization(slug=slug, name=name, timezone=timezone_name)
        organization.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"timezone": exc.messages}
        field, messages = next(iter(errors.items()))
        raise DomainError(messages[0], field=field) from exc
    organization.save()
    return organization


def username_validate(username: str) -> str:
    """Django's rules for usernames (letters, digits and @ . + - _), as a field error."""
    field = User._meta.get_field(User.USERNAME_FIELD)
    if not username:
        raise DomainError("Choose a username.", field="username")
    try:
        field.run_validators(username)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="username") from exc
    return username


def _email_validate(email: str) -> str:
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="email") from exc
    return User.objects.normalize_email(email)


def user_create(*, username: str, email: str = "", password: str | None = None, **extra):
    """An account, for the shell, a superuser or a person accepting an invitation: only
    they set its password. Without one it cannot log in until the password is reset."""
    username = username_validate(username)
    if email:
        email = _email_validate(email)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"A user named {username!r} exists already.", field="username")
    user = User(username=username, email=email, **extra)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), field="password") from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def membership_validate(*, organization, actor, membership: Membership | None, role: str):
    """Raises the DomainError a role change (or a new membership) would meet."""
    _check_role_grant(organization=organization, actor=actor, role=role)
    if membership is not None and membership.role != role:
        _check_role_grant(organization=organization, actor=actor, role=membership.role)
        _check_keeps_an_owner(organization=organization, membership=membership)


def _check_role_grant(*, organization, actor, role: str) -> None:
    if role == Role.OWNER and not _may(actor, "tenancy.manage_owners", organization):
        raise Forbidden("Only an owner can make or change owners.", field="role")


def _check_keeps_an_owner(*, organization, membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    # Lock every owner row (in pk order) so two concurrent demotions cannot both pass.
    owners = list(
        Membership.objects.for_org(organization)
        .filter(role=Role.OWNER)
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True)
    )
    if not set(owners) - {membership.pk}:
        raise Conflict("An organization keeps at least one owner.", field="role")


@rls.in_tenant
def membership_create(*, organization, actor, user, role: str = Role.REPORTER) -> Membership:
    """Adds an existing account directly: the shell (``actor=None``) and superusers only.

    Everyone else invites (:func:`invitation_create`) and the account joins by accepting,
    so nobody adds an account, or learns its credentials, without its holder's consent.
    """
    if actor is not None and not getattr(actor, "is_superuser", False):
        raise Forbidden(
            "People join by accepting an invitation; only a superuser adds an existing "
            "account directly.",
            field="username",
        )
    _check_role_grant(organization=organization, actor=actor, role=role)
    return _membership_insert(organization=organization, actor=actor, user=user, role=role)


def _membership_insert(*, organization, actor, user, role: str) -> Membership:
    if Membership.objects.for_org(organization).filter(user=user).exists():
        raise Conflict(f"{user.username} is a member already.", field="username")
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    audit.record(
        organization=organization,
        actor=actor,
        action="member.added",
        target=membership,
        after={"username": user.username, "role": role},
    )
    return membership


OPEN_INVITATION = "An invitation to that address is open already: resend it instead."


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


INVITATION_GONE = (
    "This invitation is no longer valid: it expired, was used or was withdrawn. "
    "Ask the person who invited you to send a new one."
)


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


@rls.in_tenant
def membership_change_role(*, organization, actor, membership: Membership, role: str):
    if role == membership.role:
        return membership
    membership_validate(organization=organization, actor=actor, membership=membership, role=role)
    before = {"role": membership.role}
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        organization=organization,
        actor=actor,
        action="member.role_changed",
        target=membership,
        before=before,
        after={"role": role},
    )
    return membership


@rls.in_tenant
def membership_remove(*, organization, actor, membership: Membership) -> None:
    _check_role_grant(organization=organization, actor=actor, role=membership.role)
    _check_keeps_an_owner(organization=organization, membership=membership)
    TeamMembership.objects.for_org(organization).filter(user_id=membership.user_id).delete()
    audit.record(
        organization=organization,
        actor=actor,
        action="member.removed",
        target=membership,
        before={"username": membership.user.username, "role": membership.role},
    )
    membership.delete()


@rls.in_tenant
def team_create(*, organization, actor, slug: str, name: str, description: str = "") -> Team:
    try:
        with transaction.atomic():
            team = Team.objects.create(
                organization=organization, slug=slug, name=name, description=description
            )
    except IntegrityError as exc:
        raise Conflict(f"A team with slug {slug!r} exists already.", field="slug") from exc
    audit.record(
        organization=organization,
        actor=actor,
        action="team.created",
        target=team,
        after=audit.snapshot(team, TEAM_FIELDS),
    )
    return team


@rls.in_tenant
def team_update(*, organization, actor, team: Team, **changes) -> Team:
    conflict = Conflict("A team with that slug exists already.", field="slug")
    return audit.save_changes(
        team, changes, organization=organization, actor=actor, conflict=conflict
    )


@rls.in_tenant
def team_delete(*, organization, actor, team: Team) -> None:
    audit.record(
        organization=organization,
        actor=actor,
        action="team.deleted",
        target=team,
        before=audit.snapshot(team, TEAM_FIELDS),
    )
    team.delete()


@rls.in_tenant
def team_member_add(*, organization, actor, team: Team, user, role=TeamMembership.TeamRole.MEMBER):
    if not Membership.objects.for_org(organization).filter(user=user).exists():
        raise DomainError("Only members of the organization can join its teams.", field="username")
    membership, created = TeamMembership.objects.get_or_create(
        organization=organization, team=team, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    elif not created:
        return membership
    audit.record(
        organization=organization,
        actor=actor,
        action="team.member_added",
        target=team,
        after={"username": user.username, "role": role},
    )
    return membership


@rls.in_tenant
def team_member_remove(*, organization, actor, team_membership: TeamMembership) -> None:
    audit.record(
        organization=organization,
        actor=actor,
        action="team.member_removed",
        target=team_membership.team,
        before={"username": team_membership.user.username, "role": team_membership.role},
    )
    team_membership.delete()


@rls.in_tenant
def api_key_create(
    *,
    organization,
    actor,
    name: str,
    role: str = Role.RESPONDER,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Creates a key and returns it with the raw secret, which is never stored."""
    api_key = ApiKey(organization=organization, name=name, role=role, expires_at=expires_at)
    return api_key, api_key_issue(organization=organization, actor=actor, api_key=api_key)


@rls.in_tenant
def api_key_issue(*, organization, actor, api_key: ApiKey) -> str:
    """Gives an unsaved key its secret, saves it and returns the secret, shown only once."""
    _check_role_grant(organization=organization, actor=actor, role=api_key.role)
    raw = keys.generate()
    api_key.organization = organization
    api_key.prefix = keys.shown_prefix(raw)
    api_key.key_hash = keys.digest(raw)
    api_key.created_by = actor if getattr(actor, "pk", None) else None
    api_key.save()
    audit.record(
        organization=organization,
        actor=actor,
        action="api_key.created",
        target=api_key,
        after=audit.snapshot(api_key, ["name", "role", "prefix", "expires_at"]),
    )
    return raw


@rls.in_tenant
def api_key_revoke(*, organization, actor, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit.record(
            organization=organization, actor=actor, action="api_key.revoked", target=api_key
        )
    return api_key


LAST_USED_PRECISION_SECONDS = 60


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The usable key for ``raw``, or None. Records use at most once a minute."""
    if not keys.is_well_formed(raw):
        return None
    digest = keys.digest(raw)
    with rls.ensure_transaction():
        rls.set_api_key_hash(digest)
        api_key = (
            ApiKey.objects.unscoped()  # the key names its organization; nothing else can yet
            .usable()
            .select_related("organization")
            .filter(key_hash=digest, organization__is_active=True)
            .first()
        )
        if api_key is None:
            return None
        rls.set_tenant([api_key.organization_id])
        now = timezone.now()
        last = api_key.last_used_at
        if last is None or (now - last).total_seconds() > LAST_USED_PRECISION_SECONDS:
            ApiKey.objects.for_org(api_key.organization_id).filter(pk=api_key.pk).update(
                last_used_at=now
            )
            api_key.last_used_at = now
    return api_key
