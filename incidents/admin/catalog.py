"""The service catalog, categories and the priority matrix in the admin."""

from django.contrib import admin

from incidents import services
from incidents.models import Category, PriorityRule, Service
from tenancy.admin_base import ServiceBackedAdmin, TenantAdmin


@admin.register(Service)
class ServiceAdmin(ServiceBackedAdmin):
    """Saved through the same services as the portal and the API, with the settings other
    apps keep with a service (alerts' severity map, on-call's policy)."""

    services = services
    record = "service"
    list_display = ["name", "slug", "organization", "team", "status"]
    list_filter = ["status"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["organization", "team"]


@admin.register(Category)
class CategoryAdmin(TenantAdmin):
    list_display = ["name", "slug", "organization", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]


@admin.register(PriorityRule)
class PriorityRuleAdmin(TenantAdmin):
    """The organization's impact x urgency matrix; one row per cell."""

    list_display = ["impact", "urgency", "priority", "organization"]
    list_editable = ["priority"]
    list_filter = ["impact", "urgency"]
    ordering = ["organization", "impact", "urgency"]
