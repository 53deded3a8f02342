"""The base of every /api/v1/orgs/<org>/… view: the organization is resolved once, here."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from tenancy import two_factor
from tenancy.access import organization_for
from tenancy.backends import ApiKeyUser

ACTION_PERMS = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
}


class RolePermission(permissions.BasePermission):
    """Asks the role backend for the view's permission, on the organization or the object."""

    def has_permission(self, request, view):
        perm = view.required_permission()
        return perm is None or request.user.has_perm(perm, view.organization)

    def has_object_permission(self, request, view, obj):
        perm = view.required_permission()
        return perm is None or request.user.has_perm(perm, obj)


class OrganizationScopedMixin:
    """Resolves ``self.organization`` from the URL for the authenticated principal.

    Another organization's slug answers 404 exactly like one that does not exist.
    Subclasses name their model (``perm_model``) or override ``required_permission``.
    """

    permission_classes = [permissions.IsAuthenticated, RolePermission]
    perm_model = None
    action_perms: dict[str, str] = {}

    organization = None
    role = None

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

    def finalize_response(self, request, response, *args, **kwargs):
        # Render inside the request's transaction: the browsable API queries while it
        # renders, and row-level security shows nothing once the transaction is over.
        response = super().finalize_response(request, response, *args, **kwargs)
        if hasattr(response, "render") and not response.is_rendered:
            response.render()
        return response

    def required_permission(self) -> str | None:
        method = self.request.method.lower()
        if not hasattr(self, method):
            return None  # no such handler: DRF answers 405, whatever the role
        action = getattr(self, "action", None) or method
        if action in self.action_perms:
            return self.action_perms[action]
        model = self.perm_model or self.get_queryset().model
        verb = ACTION_PERMS.get(
            action, "view" if self.request.method in ("GET", "HEAD", "OPTIONS") else "change"
        )
        return f"{model._meta.app_label}.{verb}_{model._meta.model_name}"
