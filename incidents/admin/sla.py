"""SLA targets and business hours in the admin."""

from django.contrib import admin

from incidents.models import BusinessHours, SlaTarget
from tenancy.admin_base import TenantAdmin


@admin.register(SlaTarget)
class SlaTargetAdmin(TenantAdmin):
    """Per priority: how soon incidents must be acknowledged and resolved. Changes apply to
    incidents created (or re-prioritized) afterwards."""

    list_display = [
        "priority",
        "time_to_acknowledge",
        "time_to_resolve",
        "business_hours_only",
        "organization",
    ]
    list_filter = ["business_hours_only"]
    ordering = ["organization", "priority"]


@admin.register(BusinessHours)
class BusinessHoursAdmin(TenantAdmin):
    """Business hours per weekday, in the organization's timezone; several spans per day
    are allowed (e.g. 08:00-12:00 and 13:00-17:00)."""

    list_display = ["weekday", "start", "end", "organization"]
    list_filter = ["weekday"]
    ordering = ["organization", "weekday", "start"]
