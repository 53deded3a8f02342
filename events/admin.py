"""Events in the admin: what happened, which subscribers have run, and a way to send
again what is still pending."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from events import registry, tasks
from events.models import Event
from tenancy.admin_base import ReadOnlyTenantAdmin


def _pending(event: Event) -> list[str]:
    seen = {delivery.subscriber for delivery in event.deliveries.all()}
    return [name for name in registry.subscribers_of(event.type) if name not in seen]


@admin.register(Event)
class EventAdmin(ReadOnlyTenantAdmin):
    list_display = ["id", "occurred_at", "type", "stream", "state", "organization"]
    list_filter = ["type"]
    search_fields = ["=stream", "type"]
    list_select_related = ["organization"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    fields = [
        "organization",
        "type",
        "stream",
        "occurred_at",
        "completed_at",
        "delivered_to",
        "pending_for",
        "payload_shown",
    ]
    readonly_fields = fields
    actions = ["send_again"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description="State")
    def state(self, obj):
        if obj.completed_at is not None:
            return "complete"
        pending = _pending(obj)
        return f"waiting for {', '.join(pending)}" if pending else "delivered"

    @admin.display(description="Delivered to")
    def delivered_to(self, obj):
        return (
            ", ".join(
                f"{d.subscriber} ({d.delivered_at:%Y-%m-%d %H:%M:%S})" for d in obj.deliveries.all()
            )
            or "—"
        )

    @admin.display(description="Waiting for")
    def pending_for(self, obj):
        return ", ".join(_pending(obj)) or "—"

    @admin.display(description="Payload")
    def payload_shown(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    @admin.action(description="Send the pending deliveries of the selected events again")
    def send_again(self, request, queryset):
        events = [e for e in queryset if e.completed_at is None and _pending(e)]
        sent = tasks.dispatch_to(
            [(e.organization_id, e.pk, name) for e in events for name in _pending(e)]
        )
        self.message_user(request, f"Sent {sent} delivery task(s) again.")
