from tenancy.models import Role
from tenancy.selectors import memberships_of


def organizations(request):
    """The organizations the signed-in user can switch between, and the current one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def memberships():
        return memberships_of(user=user)

    role = getattr(request, "role", None)
    organization = getattr(request, "organization", None)
    return {
        "can_view_audit": organization is not None
        and user.has_perm("tenancy.view_auditevent", organization),
        "can_list_members": organization is not None
        and user.has_perm("tenancy.view_membership", organization),
        "current_organization": organization,
        "current_role": Role(role).label.lower() if role else None,
        "user_memberships": memberships,
    }
