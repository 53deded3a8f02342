"""Escalation policies in the admin: a policy with its steps inline, each step's targets on
the step's own page, and the ``escalation_policy`` choice on services and teams."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count

from oncall.models import EscalationPolicy, Step, StepTarget
from oncall.services import policies as services
from tenancy.admin_base import TenantAdmin, TenantInline


class PolicyChoiceField(forms.ModelChoiceField):
    """One of the record's organization's policies, or none.

    The tenant form narrows every choice to the edited record's organization; on an add
    page, where the organization is not known yet, nothing has been narrowed and nothing
    is offered: the policy is chosen once the record exists."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Escalation policy")
        kwargs.setdefault(
            "help_text",
            "The policy that pages for its incidents (chosen once it is saved).",
        )
        super().__init__(queryset=EscalationPolicy.objects.all(), **kwargs)

    def _narrowed(self) -> bool:
        return self.queryset.query.has_filters()

    def _get_choices(self):
        if not self._narrowed():
            return [("", self.empty_label)]
        return super()._get_choices()

    choices = property(_get_choices, forms.ChoiceField.choices.fset)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not self._narrowed():
            raise forms.ValidationError("Choose the policy once it is saved.", code="invalid")
        return super().to_python(value)


def policy_form_field() -> PolicyChoiceField:
    """A service's or team's ``escalation_policy`` on its admin page."""
    return PolicyChoiceField()


class StepInline(TenantInline):
    model = Step
    fields = ["position", "delay_minutes", "round_robin", "targets"]
    readonly_fields = ["targets"]
    show_change_link = True
    ordering = ["position"]

    @admin.display(description="Pages")
    def targets(self, step):
        if step.pk is None:
            return "Save, then open the step to name whom it pages."
        return ", ".join(str(target) for target in step.targets.all()) or "nobody yet"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("targets__user", "targets__team", "targets__schedule")
        )


class _TouchesPolicy:
    """Saving steps or targets marks their policy changed, like an edit in the API."""

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:
            inline_form.instance.organization_id = form.instance.organization_id
        super().save_formset(request, form, formset, change)
        if formset.new_objects or formset.changed_objects or formset.deleted_objects:
            policy = form.instance if isinstance(form.instance, EscalationPolicy) else None
            policy = policy or form.instance.policy
            services.policy_touch(
                organization=policy.organization, actor=request.user, policy=policy
            )


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(_TouchesPolicy, TenantAdmin):
    list_display = ["name", "organization", "repeat", "step_count", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [StepInline]

    @admin.display(description="Steps", ordering="_steps")
    def step_count(self, obj):
        return obj._steps

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_steps=Count("steps"))

    def get_fields(self, request, obj=None):
        own = ["name", "description", "repeat"]
        return own + self.readonly_fields if obj else ["organization", *own]

    def save_model(self, request, obj, form, change):
        """Through the same services as the API: their checks, their audit."""
        organization = obj.organization
        if change:
            changes = {
                f: form.cleaned_data[f] for f in form.changed_data if f in services.POLICY_FIELDS
            }
            if changes:
                policy = EscalationPolicy.objects.for_org(organization).get(pk=obj.pk)
                services.policy_update(
                    organization=organization, actor=request.user, policy=policy, **changes
                )
            return
        created = services.policy_create(
            organization=organization,
            actor=request.user,
            **{field: form.cleaned_data[field] for field in services.POLICY_FIELDS},
        )
        obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    def delete_model(self, request, obj):
        services.policy_delete(organization=obj.organization, actor=request.user, policy=obj)

    def delete_queryset(self, request, queryset):
        for policy in queryset.select_related("organization"):
            self.delete_model(request, policy)


class StepTargetInline(TenantInline):
    model = StepTarget
    fields = ["position", "user", "team", "schedule"]
    ordering = ["position"]


@admin.register(Step)
class StepAdmin(_TouchesPolicy, TenantAdmin):
    """A step's targets: one person, a team or a schedule per row. Reached from its
    policy's page; steps are added and ordered there."""

    fields = ["policy", "position", "delay_minutes", "round_robin"]
    readonly_fields = ["policy"]
    list_display = ["__str__", "organization", "delay_minutes", "round_robin"]
    list_select_related = ["organization", "policy"]
    inlines = [StepTargetInline]

    def has_add_permission(self, request, *args):
        return False

    def get_model_perms(self, request):
        return {}  # not on the index: steps belong to their policy's page

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.policy_touch(organization=obj.organization, actor=request.user, policy=obj.policy)
