"""Request -> organization resolution, shared by the portal and the API.

"Not yours" and "does not exist" are the same 404, so a caller cannot learn which
organizations or objects exist elsewhere.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

from tenancy import rls, two_factor
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
    """Portal views under /o/<org>/: sets request.organization and request.role.

    Owners and admins of an organization that requires two-factor authentication are
    sent to enrol (or to confirm their login) first.
    """

    @login_required
    @wraps(view)
    def wrapper(request, org, *args, **kwargs):
        request.organization, request.role = organization_for(request.user, org)
        if two_factor.is_required(request.organization, request.role) and not (
            two_factor.is_satisfied(request.user)
        ):
            messages.warning(
                request,
                f"{request.organization.name} requires two-factor authentication "
                "for owners and admins.",
            )
            return redirect(f"{reverse('portal:two-factor')}?next={request.get_full_path()}")
        return view(request, *args, **kwargs)

    return wrapper
