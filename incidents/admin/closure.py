"""The organization's closure settings in the admin."""

from django.contrib import admin

from incidents.models import IncidentSettings
from tenancy.admin_base import TenantAdmin


@admin.register(IncidentSettings)
class IncidentSettingsAdmin(TenantAdmin):
    """One row per organization, created with it; auto-close after N days (0 = never)."""

    list_display = ["organization", "auto_close_after_days"]
    fields = ["organization", "auto_close_after_days"]

    def get_readonly_fields(self, request, obj=None):
        return ["organization"] if obj is not None else []

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
