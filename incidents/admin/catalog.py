"""The service catalog, categories and the priority matrix in the admin."""

from django.contrib import admin

from core import extensions
from incidents import services
from incidents.models import Category, PriorityRule, Service
from tenancy.admin_base import TenantAdmin


@admin.register(Service)
class ServiceAdmin(TenantAdmin):
    list_display = ["name", "slug", "organization", "team", "status"]
    list_filter = ["status"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["organization", "team"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        """The service's fields and, after them, the settings other apps keep with it."""
        declared = extensions.form_fields(Service, obj)
        kwargs["form"] = type("ServiceForm", (self.form,), declared)
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        """Through the same services as the portal and the API: their checks, their audit."""
        organization = obj.organization
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data}
            if changes:
                services.service_update(
                    organization=organization,
                    actor=request.user,
                    service=Service.objects.for_org(organization).get(pk=obj.pk),
                    **changes,
                )
            return
        fields = {k: v for k, v in form.cleaned_data.items() if k != "organization"}
        created = services.service_create(organization=organization, actor=request.user, **fields)
        obj.pk, obj.created_at = created.pk, created.created_at

    def delete_model(self, request, obj):
        services.service_delete(organization=obj.organization, actor=request.user, service=obj)

    def delete_queryset(self, request, queryset):
        for service in queryset.select_related("organization"):
            self.delete_model(request, service)


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
