"""Escalations and pages in the admin: read only (the engine and responders write them),
each organization's own."""

from django.contrib import admin

from oncall.models import Escalation, Page
from tenancy.admin_base import ReadOnlyTenantAdmin


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyTenantAdmin):
    list_display = ["incident", "policy_name", "state", "step", "repeat", "next_escalation_at"]
    list_filter = ["state"]
    list_select_related = ["incident", "organization"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    fields = [
        "organization",
        "incident",
        "policy",
        "state",
        "step",
        "repeat",
        "next_escalation_at",
        "started_at",
        "ended_at",
        "snapshot",
    ]

    @admin.display(description="policy (as started)")
    def policy_name(self, obj):
        return obj.snapshot.get("name", "")


@admin.register(Page)
class PageAdmin(ReadOnlyTenantAdmin):
    list_display = ["created_at", "incident", "recipient", "status", "step", "repeat", "reason"]
    list_filter = ["status"]
    search_fields = ["recipient__username", "reason"]
    list_select_related = ["incident", "recipient", "organization"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = [
        "organization",
        "incident",
        "escalation",
        "recipient",
        "status",
        "step",
        "repeat",
        "reason",
        "sent_by",
        "created_at",
        "acknowledged_at",
    ]
