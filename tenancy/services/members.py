"""Memberships: who belongs to an organization, with which role.

Each function is keyword-only, names the organization and the actor, and runs in one
transaction. ``actor=None`` means the system (a management command).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from core.errors import Conflict, Forbidden
from tenancy import audit, rls
from tenancy.models import (
    Membership,
    Role,
    TeamMembership,
)
from tenancy.services.accounts import _may

User = get_user_model()


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
