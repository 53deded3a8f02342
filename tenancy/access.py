"""Request -> organization resolution, shared by the portal and the API.

"Not yours" and "does not exist" are the same 404, so a caller cannot learn which
organizations or objects exist elsewhere.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from tenancy import rls
from tenancy.backends import role_in
from tenancy.models import Organization


def organization_for(user, slug: str) -> tuple[Organization, str]:
    """The active organization ``slug`` and the principal's role in it, or Http404."""
    organization = Organization.objects.active().filter(slug=slug).first()
    role = role_in(user, organization) if organization is not None else None
    if role is None:
        raise Http404("No such organization.")
    rls.set_tenant([organization.pk])
    return organization, role


def org_member_required(view):
    """Portal views under /o/<org>/: sets request.organization and request.role."""

    @login_required
    @wraps(view)
    def wrapper(request, org, *args, **kwargs):
        request.organization, request.role = organization_for(request.user, org)
        return view(request, *args, **kwargs)

    return wrapper
