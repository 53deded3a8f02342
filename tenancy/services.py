"""Writes to organizations, members, teams and API keys.

Each function is keyword-only, names the organization and the actor, and runs in one
transaction. ``actor=None`` means the system (a management command).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError, Forbidden
from tenancy import audit, keys, rls
from tenancy.models import ApiKey, Membership, Organization, Role, Team, TeamMembership

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


def user_create(*, username: str, email: str = "", password: str | None = None, **extra):
    if User.objects.filter(username=username).exists():
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
    _check_role_grant(organization=organization, actor=actor, role=role)
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


@rls.in_tenant
def member_add(
    *,
    organization,
    actor,
    username: str,
    email: str = "",
    role: str = Role.REPORTER,
    password: str | None = None,
) -> Membership:
    """Adds a person by username: a new user is created, an existing one must be named
    by their e-mail address too, so that adding someone reveals nothing about users the
    caller does not already know. One transaction: a refusal leaves no user behind."""
    user = User.objects.filter(username=username).first()
    if user is None:
        user = user_create(username=username, email=email, password=password)
    elif password or not email or user.email.casefold() != email.casefold():
        raise Conflict(
            "That username is taken. To add an existing user, give their e-mail address "
            "too (and no password).",
            field="username",
        )
    return membership_create(organization=organization, actor=actor, user=user, role=role)


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
