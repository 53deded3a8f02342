"""Integrations (with the key admins paste into their monitoring tool), and the alerts and
change events received through them, read-only."""

from __future__ import annotations

import contextvars
import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from alerts import kinds, services
from alerts.models import Alert, ChangeEvent, Integration, SeverityMap
from alerts.severities import validate_severity_map
from tenancy.admin_base import ReadOnlyTenantAdmin, TenantAdmin

INTEGRATION_FIELDS = ["name", "is_active", "rate_limit_per_minute"]
# The request whose change page is being rendered: its host makes the endpoint URL absolute.
_request: contextvars.ContextVar = contextvars.ContextVar("integration_admin_request")


def _pretty(value) -> str:
    return format_html(
        '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True),
    )


def severity_map_form_field() -> forms.JSONField:
    """A service's ``alert_severity_map`` on its admin page."""
    return forms.JSONField(
        required=False,
        initial=dict,
        validators=[validate_severity_map],
        label="Alert severity map",
        help_text=SeverityMap._meta.get_field("levels").help_text,
    )


@admin.register(Integration)
class IntegrationAdmin(TenantAdmin):
    """A monitoring tool's connection to a service. The key is the whole credential: copy
    it into the tool; "Regenerate key" replaces it when it may have leaked."""

    list_display = [
        "name",
        "service",
        "kind",
        "masked",
        "is_active",
        "rate_limit_per_minute",
        "created_at",
        "organization",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "service__name", "service__slug"]
    list_select_related = ["organization", "service"]
    actions = ["regenerate_key"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "service", "kind", *INTEGRATION_FIELDS]
        return [
            "organization",
            "service",
            "kind",
            *INTEGRATION_FIELDS,
            "key",
            "endpoint",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # The kind and the service are what the key was handed out for: make a new one.
        return ["organization", "service", "kind", "key", "endpoint", "created_at"]

    @admin.display(description="Key")
    def masked(self, obj):
        return obj.masked_key

    @admin.display(description="Send events to")
    def endpoint(self, obj):
        path = kinds.ingestion_path(obj)
        request = _request.get(None)
        url = request.build_absolute_uri(path) if request is not None else path
        return format_html("<code>POST {}</code> {}", url, kinds.of(obj).key_travels)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        token = _request.set(request)
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()  # the readonly fields are computed while rendering
            return response
        finally:
            _request.reset(token)

    def save_model(self, request, obj, form, change):
        """Through the same services as the API and the shell, so the audit log is kept."""
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data}
            changes = {k: v for k, v in changes.items() if k in INTEGRATION_FIELDS}
            if changes:
                services.integration_update(
                    organization=obj.organization,
                    actor=request.user,
                    integration=Integration.objects.for_org(obj.organization).get(pk=obj.pk),
                    **changes,
                )
            return
        created = services.integration_create(
            organization=obj.organization,
            actor=request.user,
            service=obj.service,
            kind=obj.kind,
            **{field: form.cleaned_data[field] for field in INTEGRATION_FIELDS},
        )
        obj.pk, obj.key, obj.created_at = created.pk, created.key, created.created_at

    def delete_model(self, request, obj):
        services.integration_delete(
            organization=obj.organization, actor=request.user, integration=obj
        )

    def delete_queryset(self, request, queryset):
        for integration in queryset.select_related("organization", "service"):
            self.delete_model(request, integration)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class IntegrationForm(form):
            def clean(self):
                cleaned = super().clean()
                organization = cleaned.get("organization") or getattr(obj, "organization", None)
                service = cleaned.get("service") or getattr(obj, "service", None)
                # The tenant-admin form checks that the service is the organization's.
                if organization is not None and service is not None:
                    name = cleaned.get("name")
                    # On the add page the model's unique constraint checks the name.
                    others = Integration.objects.for_org(organization).filter(
                        service=service, name=name
                    )
                    if obj is not None and name and others.exclude(pk=obj.pk).exists():
                        self.add_error("name", f"{service.name} has an integration named so.")
                return cleaned

        return IntegrationForm

    @admin.action(
        description="Regenerate the key of the selected integrations", permissions=["change"]
    )
    def regenerate_key(self, request, queryset):
        done = 0
        for integration in queryset.select_related("organization", "service"):
            services.integration_regenerate_key(
                organization=integration.organization, actor=request.user, integration=integration
            )
            done += 1
        self.message_user(
            request,
            f"Regenerated {done} key(s). The old keys are refused from now on: update the "
            "monitoring tools with the new ones.",
        )


@admin.register(Alert)
class AlertAdmin(ReadOnlyTenantAdmin):
    list_display = [
        "received_at",
        "integration",
        "action",
        "outcome",
        "dedup_key",
        "summary",
        "incident",
        "organization",
    ]
    list_filter = ["outcome", "action", "severity"]
    search_fields = ["dedup_key", "summary", "source"]
    list_select_related = ["organization", "integration__service", "incident"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    fields = [
        "organization",
        "received_at",
        "integration",
        "incident",
        "action",
        "outcome",
        "dedup_key",
        "fingerprint",
        "summary",
        "severity",
        "source",
        "raw_payload",
    ]
    readonly_fields = fields

    @admin.display(description="Payload as received")
    def raw_payload(self, obj):
        return _pretty(obj.payload)


@admin.register(ChangeEvent)
class ChangeEventAdmin(ReadOnlyTenantAdmin):
    list_display = ["timestamp", "service", "summary", "source", "integration", "organization"]
    search_fields = ["summary", "source"]
    list_select_related = ["organization", "service", "integration__service"]
    date_hierarchy = "timestamp"
    show_full_result_count = False
    fields = [
        "organization",
        "timestamp",
        "received_at",
        "service",
        "integration",
        "summary",
        "source",
        "details",
        "links_list",
        "raw_payload",
    ]
    readonly_fields = fields

    @admin.display(description="Custom details")
    def details(self, obj):
        return _pretty(obj.custom_details)

    @admin.display(description="Links")
    def links_list(self, obj):
        return _pretty(obj.links)

    @admin.display(description="Payload as received")
    def raw_payload(self, obj):
        return _pretty(obj.payload)
