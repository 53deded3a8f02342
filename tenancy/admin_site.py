"""The admin site for organization administrators as well as superusers.

Owners and admins of an organization log in without ``is_staff``; every model admin then
narrows what they see to their own organizations (see :class:`tenancy.admin.TenantAdmin`).
"""

import functools

from django.contrib import admin, messages
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from tenancy import rls, two_factor
from tenancy.backends import roles_of
from tenancy.forms import LoginForm
from tenancy.models import Organization
from tenancy.roles import ADMIN_ROLES


def can_use_admin(user) -> bool:
    if not user.is_active or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return any(role in ADMIN_ROLES for role in roles_of(user).values())


class OrganizationAdminAuthenticationForm(LoginForm):
    error_messages = {
        **LoginForm.error_messages,
        "invalid_login": (
            "Please enter the correct %(username)s and password for an administrator "
            "account, and the code from your authenticator app if you set one up. Note that "
            "the fields may be case-sensitive."
        ),
    }
    required_css_class = "required"

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)
        if not can_use_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


def administered_organization_ids(user) -> list[int]:
    if user.is_superuser:
        return list(Organization.objects.values_list("pk", flat=True))
    return [org_id for org_id, role in roles_of(user).items() if role in ADMIN_ROLES]


def admin_time_zone(organization_ids):
    """The zone the admin shows times in: the administered organizations' zone when they
    share one, else None (UTC). Object pages switch to their object's organization's zone
    (:meth:`tenancy.admin.TenantAdmin.get_object`)."""
    zones = set(
        Organization.objects.filter(pk__in=organization_ids)
        .values_list("timezone", flat=True)
        .distinct()[:2]
    )
    return zones.pop() if len(zones) == 1 else None


def _needs_second_factor(user, organization_ids) -> bool:
    if two_factor.is_satisfied(user):
        return False
    return Organization.objects.filter(pk__in=organization_ids, require_two_factor=True).exists()


class BeaconAdminSite(admin.AdminSite):
    site_header = "Beacon administration"
    site_title = "Beacon admin"
    index_title = "Configuration"
    login_form = OrganizationAdminAuthenticationForm

    def has_permission(self, request):
        return can_use_admin(request.user)

    def admin_view(self, view, cacheable=False):
        """Runs each admin page in one transaction that sees the administered organizations,
        with times in their time zone.

        The response is rendered inside it too: a TemplateResponse would otherwise run its
        lazy queries after the transaction, where row-level security shows nothing.
        """

        @functools.wraps(view)
        def in_tenants(request, *args, **kwargs):
            with transaction.atomic(), timezone.override(None):
                if can_use_admin(request.user):
                    organization_ids = administered_organization_ids(request.user)
                    if _needs_second_factor(request.user, organization_ids):
                        messages.warning(
                            request,
                            "An organization you administer requires two-factor "
                            "authentication: confirm this login with your authenticator app "
                            "(or set one up) to use the admin.",
                        )
                        return redirect(
                            f"{reverse('portal:two-factor')}?next={request.get_full_path()}"
                        )
                    rls.set_tenant(organization_ids)
                    zone = admin_time_zone(organization_ids)
                    if zone is not None:
                        timezone.activate(zone)
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response

        return super().admin_view(in_tenants, cacheable)
