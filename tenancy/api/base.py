"""The base of every /api/v1/orgs/<org>/… view: the organization is resolved once, here."""

from __future__ import annotations

from rest_framework import exceptions

from core.api.base import PermissionMixin
from tenancy import two_factor
from tenancy.access import organization_for
from tenancy.backends import ApiKeyUser


class OrganizationScopedMixin(PermissionMixin):
    """Resolves ``self.organization`` from the URL for the authenticated principal.

    Another organization's slug answers 404 exactly like one that does not exist.
    Subclasses name their model (``perm_model``) or override ``required_permission``;
    permissions are asked on the organization.
    """

    organization = None
    role = None

    @property
    def permission_scope(self):
        return self.organization

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        if request.user.is_authenticated:
            self.organization, self.role = organization_for(request.user, kwargs["org"])
            request.organization = self.organization
            if (
                not isinstance(request.user, ApiKeyUser)
                and two_factor.is_required(self.organization, self.role)
                and not two_factor.is_satisfied(request.user)
            ):
                raise exceptions.PermissionDenied(
                    "This organization requires two-factor authentication for your role: "
                    "log in with your authenticator code, or use an API key."
                )
        super().initial(request, *args, **kwargs)
