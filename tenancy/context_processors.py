from tenancy.models import Role


def organizations(request):
    """The organizations the signed-in user can switch between, and the current one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def memberships():
        return list(
            user.memberships.filter(organization__is_active=True)
            .select_related("organization")
            .order_by("organization__name")
        )

    role = getattr(request, "role", None)
    return {
        "current_organization": getattr(request, "organization", None),
        "current_role": Role(role).label.lower() if role else None,
        "user_memberships": memberships,
    }
