"""Escalation policies in the admin: a policy with its steps inline, each step naming
whom it pages (people, teams, schedules) in its own row, and the ``escalation_policy``
choice on services and teams.

A policy and its steps are written together through the same service as the API, once
the page and every step row are valid: its checks (a step names someone; people are
members; at most so many steps) and its audit record apply, and a refused save stores
nothing."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count

from oncall.models import EscalationPolicy, Schedule, Step
from oncall.services import policies as services
from oncall.targets import RESPONDS
from tenancy.admin_base import TenantAdminForm, TenantInline, WholeRecordAdmin
from tenancy.models import Team
from tenancy.roles import roles_with_perm

User = get_user_model()


def policy_form_field() -> forms.ModelChoiceField:
    """A service's or team's ``escalation_policy`` on its admin page (the admin narrows
    the choices to the record's organization)."""
    return forms.ModelChoiceField(
        queryset=EscalationPolicy.objects.order_by("name"),
        required=False,
        label="Escalation policy",
        help_text="The policy that pages for its incidents (a service's wins over its team's).",
    )


def _targets_field(queryset, label: str) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=queryset,
        required=False,
        label=label,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )


class StepForm(TenantAdminForm):
    """A step and whom it pages; at least one person, team or schedule."""

    users = _targets_field(User.objects.none(), "People")  # responders: see __init__
    teams = _targets_field(Team.objects.order_by("name"), "Teams")
    schedules = _targets_field(Schedule.objects.order_by("name"), "Schedules")

    class Meta:
        model = Step
        fields = ["position", "delay_minutes", "round_robin"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # People who can acknowledge a page, in the organization (or the administrator's).
        org_ids = [self.organization_id] if self.organization_id else self.admin_org_ids
        responders = {"memberships__role__in": roles_with_perm(RESPONDS)}
        if org_ids is not None:
            responders["memberships__organization_id__in"] = org_ids
        self.fields["users"].queryset = (
            User.objects.filter(is_active=True, **responders).distinct().order_by("username")
        )
        self.chosen = {"users": [], "teams": [], "schedules": []}
        if self.instance.pk is not None:
            for target in self.instance.targets.all():
                if target.user_id:
                    self.chosen["users"].append(target.user)
                elif target.team_id:
                    self.chosen["teams"].append(target.team)
                else:
                    self.chosen["schedules"].append(target.schedule)
            self.initial.update(
                {kind: [value.pk for value in values] for kind, values in self.chosen.items()}
            )

    def clean(self):
        cleaned = super().clean()
        if not any(cleaned.get(kind) for kind in services.TARGET_KINDS):
            raise forms.ValidationError("Name whom the step pages: people, teams or schedules.")
        return cleaned

    def _kept_in_order(self, kind: str) -> list:
        """The chosen targets of a kind: those the step had in their order (which is the
        round-robin order), then the ones added."""
        selected = list(self.cleaned_data[kind])
        had = [value for value in self.chosen[kind] if value in selected]
        return had + [value for value in selected if value not in had]

    def step(self) -> dict:
        """The step as the policy service takes it."""
        data = self.cleaned_data
        return {
            "delay_minutes": data["delay_minutes"],
            "round_robin": data["round_robin"],
            "users": [user.username for user in self._kept_in_order("users")],
            "teams": [team.slug for team in self._kept_in_order("teams")],
            "schedules": [schedule.pk for schedule in self._kept_in_order("schedules")],
        }


class StepInline(TenantInline):
    model = Step
    form = StepForm
    fields = ["position", "delay_minutes", "round_robin", "users", "teams", "schedules"]
    ordering = ["position"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("targets")


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(WholeRecordAdmin):
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

    def write(self, request, form, rows, change):
        """The policy and its steps (in position order, then row order)."""
        organization = form.instance.organization
        steps = rows.get(Step)
        if steps is not None:
            steps = [
                row.step() for row in sorted(steps, key=lambda row: row.cleaned_data["position"])
            ]
        if not change:
            return services.policy_create(
                organization=organization,
                actor=request.user,
                steps=steps or [],
                **{field: form.cleaned_data[field] for field in services.POLICY_FIELDS},
            )
        changes = {
            f: form.cleaned_data[f] for f in form.changed_data if f in services.POLICY_FIELDS
        }
        policy = EscalationPolicy.objects.for_org(organization).get(pk=form.instance.pk)
        if not changes and steps is None:
            return policy
        return services.policy_update(
            organization=organization, actor=request.user, policy=policy, steps=steps, **changes
        )

    def delete_model(self, request, obj):
        services.policy_delete(organization=obj.organization, actor=request.user, policy=obj)

    def delete_queryset(self, request, queryset):
        for policy in queryset.select_related("organization"):
            self.delete_model(request, policy)
