"""The portal's own pages: where a signed-in person lands, and an organization's home."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from core import panels
from tenancy import selectors, two_factor
from tenancy.access import org_member_required
from tenancy.models import Organization


@login_required
def index(request):
    """Straight to the only organization, or a picker when there are several.

    A superuser who is a member nowhere is told where to start instead: the admin, any
    organization's portal, and the two-factor step the stricter organizations ask for.
    """
    memberships = selectors.memberships_of(user=request.user)
    if len(memberships) == 1:
        return redirect("portal:home", org=memberships[0].organization.slug)
    context = {"memberships": memberships}
    if not memberships and request.user.is_superuser:
        organizations = list(Organization.objects.active().order_by("name"))
        context.update(
            organizations=organizations,
            two_factor_needed=any(o.require_two_factor for o in organizations)
            and not two_factor.is_satisfied(request.user),
            has_device=two_factor.confirmed_device(request.user) is not None,
        )
    return render(request, "portal/index.html", context)


@org_member_required
def home(request):
    """The organization's home: a card from each app that has something for this reader."""
    return render(request, "portal/home.html", {"panels": panels.collect(panels.HOME, request)})
