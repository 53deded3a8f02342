"""Schedules in the admin: a schedule with its layers inline, each naming its rotation;
overrides and swaps. Saved through the same services as the API (a schedule is written
with its layers, as the API writes it), so their checks and audit apply."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.timezone import localtime, now

from core.errors import DomainError
from oncall import selectors
from oncall.models import Layer, Override, Schedule, Swap
from oncall.rotations import oncall_at
from oncall.services import schedules as services
from tenancy.admin_base import (
    TenantAdmin,
    TenantAdminForm,
    TenantInline,
    TenantInlineFormSet,
    WholeRecordAdmin,
)


class PositionFormSet(TenantInlineFormSet):
    """Rows of one parent each take their own position. The unique constraint includes
    the organization, which inline forms leave out, so the formset checks it itself."""

    def clean(self):
        super().clean()
        positions = [
            form.cleaned_data.get("position")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if len(positions) != len(set(positions)):
            raise ValidationError("Each row needs its own position.")


class LayerForm(TenantAdminForm):
    """A layer's settings and its rotation: usernames in order, shift k going to the
    person at k mod n."""

    participants = forms.CharField(
        required=False,
        label="Rotation",
        help_text="Usernames in rotation order, separated by commas.",
        widget=forms.TextInput(attrs={"size": 24}),
    )

    class Meta:
        model = Layer
        fields = services.LAYER_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["participants"] = ", ".join(
                participant.user.get_username() for participant in self.instance.participants.all()
            )

    def clean_participants(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["participants"].split(",")]
        names = [name for name in names if name]
        if self.organization_id is not None:
            members = services.members_by_username(self.organization_id, names)
            missing = [name for name in names if name not in members]
            if missing:
                raise ValidationError(
                    f"Not a member of this organization: {', '.join(missing)}.", code="invalid"
                )
        return names

    def layer(self) -> dict:
        """The layer as the schedule service takes it."""
        return {
            field: self.cleaned_data[field] for field in (*services.LAYER_FIELDS, "participants")
        }


class LayerInline(TenantInline):
    model = Layer
    form = LayerForm
    formset = PositionFormSet
    fields = [*services.LAYER_FIELDS, "participants"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("participants__user")


@admin.register(Schedule)
class ScheduleAdmin(WholeRecordAdmin):
    list_display = ["name", "organization", "team", "time_zone"]
    list_select_related = ["organization", "team"]
    search_fields = ["name", "description"]
    fields = ["organization", "name", "description", "time_zone", "team", "on_call_now"]
    readonly_fields = ["on_call_now"]
    inlines = [LayerInline]

    @admin.display(description="On call now")
    def on_call_now(self, schedule):
        if schedule is None or schedule.pk is None:
            return "-"
        loaded = selectors.schedule_get(organization=schedule.organization, pk=schedule.pk)
        answer = oncall_at(loaded, now())
        names = ", ".join(user.get_username() for user in answer.users) or "Nobody"
        if answer.until is None:
            return names
        return f"{names}, until {date_format(localtime(answer.until), 'DATETIME_FORMAT')}"

    def write(self, request, form, rows, change):
        """The schedule and its layers, through the same services as the API."""
        organization = form.instance.organization
        layers = rows.get(Layer)
        layers = None if layers is None else [row.layer() for row in layers]
        fields = {field: form.cleaned_data[field] for field in services.SCHEDULE_FIELDS}
        if not change:
            return services.schedule_create(
                organization=organization, actor=request.user, layers=layers or [], **fields
            )
        schedule = Schedule.objects.for_org(organization).get(pk=form.instance.pk)
        changes = {field: fields[field] for field in form.changed_data if field in fields}
        return services.schedule_update(
            organization=organization,
            actor=request.user,
            schedule=schedule,
            layers=layers,
            **changes,
        )

    def has_delete_permission(self, request, obj=None):
        """Not while a policy pages the schedule (the delete would be refused)."""
        if obj is not None and services.policies_paging(obj.organization, obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.schedule_delete(organization=obj.organization, actor=request.user, schedule=obj)

    def delete_queryset(self, request, queryset):
        for schedule in queryset.select_related("organization"):
            try:
                self.delete_model(request, schedule)
            except DomainError as exc:
                self.message_user(request, f"{schedule}: {exc.message}", messages.ERROR)


@admin.register(Override)
class OverrideAdmin(TenantAdmin):
    list_display = ["schedule", "user", "start", "end", "organization", "created_by"]
    list_select_related = ["organization", "schedule", "user", "created_by"]
    fields = ["organization", "schedule", "user", "start", "end", "created_by"]
    readonly_fields = ["created_by"]
    date_hierarchy = "start"

    def save_model(self, request, obj, form, change):
        """New overrides through the service (the span's checks, the audit)."""
        if change:
            services.check_span(obj.start, obj.end)
            super().save_model(request, obj, form, change)
            return
        created = services.override_create(
            organization=obj.organization,
            actor=request.user,
            schedule=obj.schedule,
            user=obj.user,
            start=obj.start,
            end=obj.end,
        )
        obj.pk, obj.created_at = created.pk, created.created_at

    def delete_model(self, request, obj):
        services.override_delete(organization=obj.organization, actor=request.user, override=obj)

    def delete_queryset(self, request, queryset):
        for override in queryset.select_related("organization"):
            self.delete_model(request, override)


@admin.register(Swap)
class SwapAdmin(TenantAdmin):
    """Swaps are offered and taken in the portal or the API; here they are read, and
    offers nobody has taken yet can be withdrawn."""

    list_display = ["schedule", "offered_by", "start", "end", "status", "taken_by"]
    list_filter = ["status"]
    list_select_related = ["organization", "schedule", "offered_by", "taken_by"]
    readonly_fields = [
        "schedule",
        "offered_by",
        "start",
        "end",
        "note",
        "status",
        "taken_by",
        "override",
        "created_at",
        "decided_at",
    ]
    actions = ["cancel_offers"]

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Withdraw the selected offers", permissions=["change"])
    def cancel_offers(self, request, queryset):
        for swap in queryset.select_related("organization"):
            try:
                services.swap_cancel(organization=swap.organization, actor=request.user, swap=swap)
            except DomainError as exc:
                self.message_user(request, f"{swap}: {exc.message}", messages.WARNING)
