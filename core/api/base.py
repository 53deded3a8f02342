"""The base of Beacon's API views: permissions asked per action, answers rendered inside
the request's transaction. Which organization a view works in is tenancy's business
(``tenancy.api.base.OrganizationScopedMixin`` builds on this)."""

from __future__ import annotations

from rest_framework import permissions

ACTION_PERMS = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
}


class RolePermission(permissions.BasePermission):
    """Asks the permission backends for the view's permission, on the view's scope object
    (``view.permission_scope``) or on the object."""

    def has_permission(self, request, view):
        perm = view.required_permission()
        return perm is None or request.user.has_perm(perm, view.permission_scope)

    def has_object_permission(self, request, view, obj):
        perm = view.required_permission()
        return perm is None or request.user.has_perm(perm, obj)


class PermissionMixin:
    """Names the permission each request needs: ``action_perms`` by action, else
    ``<app>.<verb>_<model>`` of ``perm_model`` (or the queryset's model)."""

    permission_classes = [permissions.IsAuthenticated, RolePermission]
    perm_model = None
    action_perms: dict[str, str] = {}
    permission_scope = None

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
