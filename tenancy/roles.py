"""Which Django permissions each membership role grants.

Every app grants its own permissions in its ``AppConfig.ready`` through :func:`grant`, so
this module names no domain app. The admin, the portal and the API all ask
``user.has_perm(perm, obj)``; :class:`tenancy.backends.RolePermissionBackend` answers with
the role the user holds in ``obj``'s organization.
"""

from __future__ import annotations

from collections.abc import Iterable

from tenancy.models import Role

ALL_ROLES = tuple(Role)
ADMIN_ROLES = (Role.OWNER, Role.ADMIN)
# Who may list the members, with their e-mail addresses and roles.
MEMBER_READERS = (Role.OWNER, Role.ADMIN, Role.RESPONDER)

_grants: dict[str, set[str]] = {role.value: set() for role in Role}


def grant(roles: Iterable[str], perms: Iterable[str]) -> None:
    perms = list(perms)
    for role in roles:
        _grants[Role(role).value].update(perms)


def perms_for_role(role: str | None) -> frozenset[str]:
    if role is None:
        return frozenset()
    return frozenset(_grants[role])


def role_has_perm(role: str | None, perm: str) -> bool:
    return role is not None and perm in _grants[role]


def roles_with_perm(perm: str) -> tuple[str, ...]:
    """The roles that grant ``perm``, in the order of :class:`Role`."""
    return tuple(role.value for role in Role if perm in _grants[role.value])


def all_granted_perms() -> set[str]:
    return set().union(*_grants.values())


def model_perms(app_label: str, model: str, actions=("view", "add", "change", "delete")):
    return [f"{app_label}.{action}_{model}" for action in actions]


def grant_tenancy_defaults() -> None:
    everyone = ALL_ROLES
    grant(everyone, ["tenancy.view_organization"])
    grant(MEMBER_READERS, ["tenancy.view_membership"])
    grant(everyone, ["tenancy.view_team", "tenancy.view_teammembership"])
    grant(ADMIN_ROLES, model_perms("tenancy", "membership", ("add", "change", "delete")))
    grant(ADMIN_ROLES, model_perms("tenancy", "team", ("add", "change", "delete")))
    grant(ADMIN_ROLES, model_perms("tenancy", "teammembership", ("add", "change", "delete")))
    grant(ADMIN_ROLES, model_perms("tenancy", "apikey"))
    grant(ADMIN_ROLES, model_perms("tenancy", "invitation"))
    grant([Role.OWNER], ["tenancy.change_organization", "tenancy.manage_owners"])
    grant([Role.OWNER], ["tenancy.view_auditevent"])
