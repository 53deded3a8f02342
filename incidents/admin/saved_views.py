"""Responders' saved queue views in the admin (read and delete only)."""

from django.contrib import admin

from incidents.models import SavedView
from tenancy.admin_base import TenantAdmin


@admin.register(SavedView)
class SavedViewAdmin(TenantAdmin):
    """Responders' own queue views: saved and changed in the portal; read (and, if need be,
    deleted) here."""

    list_display = ["name", "owner", "organization", "query", "created_at"]
    search_fields = ["name", "owner__username"]
    list_select_related = ["organization", "owner"]
    fields = ["organization", "owner", "name", "query", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False
