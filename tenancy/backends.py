"""One answer to "may this principal do that to this object?" for admin, portal and API."""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from tenancy import rls, roles
from tenancy.models import ApiKey, Membership, Organization


def organization_id_of(obj) -> int | None:
    if isinstance(obj, Organization):
        return obj.pk
    return getattr(obj, "organization_id", None)


def roles_of(user) -> dict[int, str]:
    """The user's role in each active organization, cached on the user for the request."""
    cached = getattr(user, "_beacon_roles", None)
    if cached is None:
        with rls.ensure_transaction():
            rls.set_user(user.pk)
            cached = dict(
                Membership.objects.unscoped()
                .filter(user=user, organization__is_active=True)
                .values_list("organization_id", "role")
            )
        user._beacon_roles = cached
    return cached


def role_in(user, organization) -> str | None:
    """The role the principal (a user or an API key) holds in the organization, if any."""
    org_id = organization_id_of(organization)
    if isinstance(user, ApiKeyUser):
        return user.api_key.role if user.api_key.organization_id == org_id else None
    if not user.is_authenticated or not user.is_active:
        return None
    role = roles_of(user).get(org_id)
    if role is None and user.is_superuser:
        return roles.Role.OWNER.value
    return role


class RolePermissionBackend(BaseBackend):
    """Grants the permissions of the user's role in the object's organization.

    Without an object it answers for the union of the user's roles, which is what the
    admin's model-level checks need; querysets there are narrowed to the organizations
    where the user holds a role that grants the permission.
    """

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        if obj is None:
            return set().union(*(roles.perms_for_role(r) for r in roles_of(user_obj).values()))
        return set(roles.perms_for_role(roles_of(user_obj).get(organization_id_of(obj))))

    def has_perm(self, user_obj, perm, obj=None):
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label):
        return any(perm.startswith(f"{app_label}.") for perm in self.get_all_permissions(user_obj))


class ApiKeyUser:
    """The principal behind an API key: it acts in one organization with the key's role."""

    is_active = True
    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self):
        return f"API key {self.api_key.name}"

    def has_perm(self, perm, obj=None):
        if obj is not None and organization_id_of(obj) != self.api_key.organization_id:
            return False
        return roles.role_has_perm(self.api_key.role, perm)

    def has_perms(self, perms, obj=None):
        return all(self.has_perm(perm, obj) for perm in perms)
