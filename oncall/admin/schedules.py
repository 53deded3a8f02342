"""Schedules in the admin: schedules with their layers, each layer's rotation, overrides
and swaps, saved through the same services as the API where those have checks of their
own (schedule names and zones, override spans, swap decisions)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.timezone import localtime, now

from core.errors import DomainError
from oncall import selectors
from oncall.models import Layer, Override, Participant, Schedule, Swap
from oncall.rotations import oncall_at
from oncall.services import schedules as services
from tenancy.admin_base import TenantAdmin, TenantInline, TenantInlineFormSet


def _rows_in_parents_organization(form, formset) -> None:
    """New inline rows carry the organization of the object they are added to."""
    for inline in formset.forms:
        inline.instance.organization_id = form.instance.organization_id


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


class LayerInline(TenantInline):
    """A layer's settings; its rotation (who, in which order) is on the layer's own page."""

    model = Layer
    formset = PositionFormSet
    fields = [
        "name",
        "position",
        "rotation_start",
        "handoff_time",
        "shift_length",
        "shift_unit",
        "restrictions",
        "rotation",
    ]
    readonly_fields = ["rotation"]
    show_change_link = True

    @admin.display(description="Rotation")
    def rotation(self, layer):
        if layer.pk is None:
            return "Save, then open the layer to add people."
        return ", ".join(p.user.get_username() for p in layer.participants.all()) or "Nobody"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("participants__user")


@admin.register(Schedule)
class ScheduleAdmin(TenantAdmin):
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

    def save_model(self, request, obj, form, change):
        """Through the same services as the API: their checks, their audit."""
        organization = obj.organization
        fields = {
            field: form.cleaned_data[field]
            for field in form.changed_data
            if field in services.SCHEDULE_FIELDS
        }
        if change:
            if fields:
                services.schedule_update(
                    organization=organization,
                    actor=request.user,
                    schedule=Schedule.objects.for_org(organization).get(pk=obj.pk),
                    **fields,
                )
            return
        fields.pop("name", None)
        fields.setdefault("time_zone", form.cleaned_data.get("time_zone") or "UTC")
        created = services.schedule_create(
            organization=organization, actor=request.user, name=obj.name, **fields
        )
        obj.pk, obj.created_at = created.pk, created.created_at

    def save_formset(self, request, form, formset, change):
        _rows_in_parents_organization(form, formset)
        super().save_formset(request, form, formset, change)

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


class ParticipantInline(TenantInline):
    model = Participant
    formset = PositionFormSet
    fields = ["position", "user"]
    ordering = ["position"]


@admin.register(Layer)
class LayerAdmin(TenantAdmin):
    """A layer's rotation: shift k is covered by the participant at k mod n."""

    list_display = ["__str__", "organization", "position", "shift_length", "shift_unit"]
    list_select_related = ["organization", "schedule"]
    fields = ["schedule", "name", "position", "rotation_start", "shift_length", "shift_unit"]
    # The layer's settings are edited on its schedule's page; here, its rotation.
    readonly_fields = fields
    inlines = [ParticipantInline]

    def has_add_permission(self, request, *args):
        return False

    def has_module_permission(self, request):
        return False  # reached from its schedule's page

    def save_formset(self, request, form, formset, change):
        _rows_in_parents_organization(form, formset)
        super().save_formset(request, form, formset, change)


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
