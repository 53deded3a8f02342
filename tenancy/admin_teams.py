"""Teams in the admin: a team with its members inline, and the settings other apps keep
with a team (:mod:`core.extensions`) beside its own fields, saved through the services."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from tenancy import services
from tenancy.admin_base import ServiceBackedAdmin, TenantInline, TenantInlineFormSet
from tenancy.models import Membership, Team, TeamMembership


class TeamMembershipFormSet(TenantInlineFormSet):
    def clean(self):
        super().clean()
        organization_id = self.instance.organization_id
        seen = set()
        for form in self.forms:
            user = form.cleaned_data.get("user") if hasattr(form, "cleaned_data") else None
            if user is None or form.cleaned_data.get("DELETE"):
                continue
            if user.pk in seen:
                form.add_error("user", "This person is in the team already.")
            seen.add(user.pk)
            if not Membership.objects.filter(organization_id=organization_id, user=user).exists():
                form.add_error("user", "Only members of the organization can join its teams.")


class TeamMembershipInline(TenantInline):
    model = TeamMembership
    formset = TeamMembershipFormSet
    fields = ["user", "role"]


@admin.register(Team)
class TeamAdmin(ServiceBackedAdmin):
    services = services
    record = "team"
    list_display = ["name", "slug", "organization", "member_count"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TeamMembershipInline]

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj):
        return obj._members

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:
            inline_form.instance.organization_id = form.instance.organization_id
        super().save_formset(request, form, formset, change)
