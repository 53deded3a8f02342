"""Notifications in the admin: webhooks (saved through the services; the signing secret
is shown once, when made) and the outbox's deliveries with every attempt, retried from
here."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from core.errors import DomainError
from core.secrets import mask
from notifications import webhooks
from notifications.models import Attempt, Delivery, Webhook
from notifications.services import deliveries
from notifications.services import webhooks as services
from tenancy.admin_base import ReadOnlyTenantAdmin, TenantAdmin, TenantAdminForm, TenantInline


class WebhookForm(TenantAdminForm):
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {meaning}") for name, meaning in webhooks.EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Webhook
        fields = ["organization", "name", "url", "events", "is_active"]


@admin.register(Webhook)
class WebhookAdmin(TenantAdmin):
    form = WebhookForm
    list_display = ["name", "organization", "url", "is_active", "disabled_reason"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    readonly_fields = ["signing_secret", "previous_secret_until", "disabled_reason", "created_at"]
    actions = ["rotate_secrets"]

    def get_fields(self, request, obj=None):
        own = ["name", "url", "events", "is_active"]
        return [*own, *self.readonly_fields] if obj else ["organization", *own]

    @admin.display(description="Signing secret")
    def signing_secret(self, webhook):
        return mask(webhook.secret)

    def save_model(self, request, obj, form, change):
        organization = obj.organization
        fields = {name: form.cleaned_data[name] for name in services.FIELDS}
        if change:
            current = Webhook.objects.for_org(organization).get(pk=obj.pk)
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            services.webhook_update(
                organization=organization, actor=request.user, webhook=current, **changed
            )
            return
        created, secret = services.webhook_create(
            organization=organization, actor=request.user, **fields
        )
        obj.pk, obj.created_at = created.pk, created.created_at
        messages.warning(
            request, f"The signing secret of {created.name}, shown this once: {secret}"
        )

    def delete_model(self, request, obj):
        services.webhook_delete(organization=obj.organization, actor=request.user, webhook=obj)

    def delete_queryset(self, request, queryset):
        for webhook in queryset.select_related("organization"):
            self.delete_model(request, webhook)

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secrets(self, request, queryset):
        for webhook in queryset.select_related("organization"):
            _, secret = services.webhook_rotate_secret(
                organization=webhook.organization, actor=request.user, webhook=webhook
            )
            messages.warning(
                request,
                f"The new signing secret of {webhook.name}, shown this once: {secret} "
                "(the previous one signs beside it for a day).",
            )


class AttemptInline(TenantInline):
    model = Attempt
    fields = ["number", "started_at", "duration_ms", "status_code", "error", "response"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyTenantAdmin):
    list_display = [
        "event_type",
        "recipient",
        "incident",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "organization",
    ]
    list_filter = ["status", "channel", "event_type"]
    list_select_related = ["organization", "incident"]
    search_fields = ["recipient", "message_id", "key"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["retry"]

    def has_change_permission(self, request, obj=None):
        return obj is None and self._has(request, "change", obj)  # the retry action only

    @admin.action(description="Send the selected deliveries again", permissions=["change"])
    def retry(self, request, queryset):
        for delivery in queryset.select_related("organization"):
            if not request.user.has_perm("notifications.change_delivery", delivery):
                self.message_user(request, f"{delivery}: you may not retry it.", messages.WARNING)
                continue
            try:
                deliveries.delivery_retry(
                    organization=delivery.organization, actor=request.user, delivery=delivery
                )
            except DomainError as exc:
                self.message_user(request, f"{delivery}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, f"Sending {delivery} again.")
