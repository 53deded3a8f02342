"""The admin of organizations, members, invitations, teams, API keys and the audit log.

The base every tenant-owned model's admin builds on is in ``tenancy/admin_base.py``; teams
are in ``tenancy/admin_teams.py``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.http import Http404
from django.utils import timezone

from core.errors import DomainError
from tenancy import admin_teams, audit, services
from tenancy.admin_base import (
    ReadOnlyTenantAdmin,
    TenantAdmin,
    form_changes,
    only_organizations,
    organizations_where,
)
from tenancy.backends import roles_of
from tenancy.models import (
    ApiKey,
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    Role,
)

User = get_user_model()
__all__ = ["admin_teams"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        orgs = organizations_where(request, "tenancy.view_organization")
        admin_orgs = [
            org_id
            for org_id, role in roles_of(request.user).items()
            if role in (Role.OWNER, Role.ADMIN)
        ]
        return only_organizations(
            super().get_queryset(request),
            None if orgs is None else [o for o in orgs if o in admin_orgs],
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such organization.")
        timezone.activate(obj.timezone)  # restored by the admin site after the page
        return obj

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "slug", "is_active"]

    def has_module_permission(self, request):
        return request.user.has_perm("tenancy.view_organization")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("tenancy.view_organization", obj)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("tenancy.change_organization", obj)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        # Organizations are deactivated, never deleted here: their audit log stays.
        return False

    def save_model(self, request, obj, form, change):
        before, after = form_changes(form)
        super().save_model(request, obj, form, change)
        audit.record(
            organization=obj,
            actor=request.user,
            action="organization.updated" if change else "organization.created",
            target=obj,
            before=before,
            after=after,
        )


class MembershipAdminForm(forms.ModelForm):
    """Changes a member's role; a superuser also adds an existing account directly.

    Everyone else brings people in with an invitation, which the person accepts: nobody
    adds an account, or sets its password, without its holder's consent.
    """

    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        help_text="An existing account. To bring in someone new, send an invitation.",
    )

    class Meta:
        model = Membership
        fields = ["organization", "user", "role"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        if self.instance.pk:
            for name in ("user", "organization"):
                self.fields.pop(name, None)

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or (
            self.instance.organization if self.instance.pk else None
        )
        role = cleaned.get("role")
        if organization is None or role is None:
            return cleaned
        user = cleaned.get("user")
        if (
            not self.instance.pk
            and user is not None
            and Membership.objects.for_org(organization).filter(user=user).exists()
        ):
            self.add_error("user", f"{user.username} is a member already.")
        try:
            services.membership_validate(
                organization=organization,
                actor=self.request.user,
                membership=self.instance if self.instance.pk else None,
                role=role,
            )
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    form = MembershipAdminForm
    list_display = ["user", "user_email", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    list_select_related = ["organization", "user"]
    readonly_fields = ["user", "created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class RequestForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, request=request, **inner)

        return RequestForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "user", "role"]
        return ["user", "role", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return super().get_readonly_fields(request, obj)

    def has_add_permission(self, request, *args):
        # Existing accounts join by accepting an invitation; a superuser may add one.
        return request.user.is_superuser

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_invite": request.user.has_perm("tenancy.add_invitation"),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="E-mail", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    def save_model(self, request, obj, form, change):
        organization = obj.organization
        if change:
            services.membership_change_role(
                organization=organization,
                actor=request.user,
                membership=Membership.objects.for_org(organization).get(pk=obj.pk),
                role=obj.role,
            )
            return
        created = services.membership_create(
            organization=organization,
            actor=request.user,
            user=form.cleaned_data["user"],
            role=obj.role,
        )
        obj.pk, obj.user = created.pk, created.user

    def has_delete_permission(self, request, obj=None):
        if not super().has_delete_permission(request, obj):
            return False
        if obj is None or obj.role != Role.OWNER:
            return True
        try:
            services.membership_validate(
                organization=obj.organization, actor=request.user, membership=obj, role=""
            )
        except DomainError:
            return False  # only owners remove owners, and never the last one
        return True

    def delete_model(self, request, obj):
        services.membership_remove(
            organization=obj.organization, actor=request.user, membership=obj
        )

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("organization", "user"):
            try:
                self.delete_model(request, membership)
            except DomainError as exc:
                self.message_user(request, f"{membership}: {exc.message}", messages.ERROR)


class InvitationAdminForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["organization", "email", "role", "username"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        cleaned = super().clean()
        organization, email = cleaned.get("organization"), cleaned.get("email")
        if organization is None or not email or not cleaned.get("role"):
            return cleaned
        try:
            services.invitation_validate(
                organization=organization,
                actor=self.request.user,
                email=email,
                role=cleaned["role"],
                username=cleaned.get("username", ""),
            )
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return cleaned


@admin.register(Invitation)
class InvitationAdmin(TenantAdmin):
    """Invite people; resend or revoke the links. Invitations are never edited or deleted:
    what happened to each stays visible."""

    form = InvitationAdminForm
    list_display = ["email", "organization", "role", "status", "invited_by", "expires_at"]
    list_filter = ["role"]
    search_fields = ["email", "username"]
    list_select_related = ["organization", "invited_by", "accepted_by"]
    actions = ["resend", "revoke"]
    readonly_fields = [
        "organization",
        "email",
        "role",
        "username",
        "status",
        "invited_by",
        "created_at",
        "sent_at",
        "send_count",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class RequestForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, request=request, **inner)

        return RequestForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "email", "role", "username"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description="Status")
    def status(self, obj):
        return obj.get_status_display()

    def has_change_permission(self, request, obj=None):
        return False  # shown read-only; resend and revoke are actions

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted

    def has_resend_permission(self, request):
        return self._has(request, "change", None)

    def has_revoke_permission(self, request):
        return self._has(request, "delete", None)

    def save_model(self, request, obj, form, change):
        created = services.invitation_create(
            organization=obj.organization,
            actor=request.user,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            username=form.cleaned_data.get("username", ""),
        )
        obj.pk = created.pk

    def _each(self, request, queryset, *, service, perm: str, done: str):
        count = 0
        for invitation in queryset.select_related("organization"):
            if not request.user.has_perm(perm, invitation):
                continue  # an administrator of two organizations may do this in one only
            try:
                service(
                    organization=invitation.organization, actor=request.user, invitation=invitation
                )
            except DomainError as exc:
                self.message_user(request, f"{invitation.email}: {exc.message}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, f"{done} {count} invitation(s).")

    @admin.action(description="Resend the selected invitations (new links)", permissions=["resend"])
    def resend(self, request, queryset):
        self._each(
            request,
            queryset,
            service=services.invitation_resend,
            perm="tenancy.change_invitation",
            done="Resent",
        )

    @admin.action(description="Revoke the selected invitations", permissions=["revoke"])
    def revoke(self, request, queryset):
        self._each(
            request,
            queryset,
            service=services.invitation_revoke,
            perm="tenancy.delete_invitation",
            done="Revoked",
        )


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    list_display = [
        "name",
        "prefix",
        "organization",
        "role",
        "status",
        "last_used_at",
        "created_at",
    ]
    list_filter = ["role"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name", "role", "expires_at"]
        return ["organization", "name", "role", "expires_at", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["organization", "role", *self.readonly_fields]

    @admin.display(description="Status")
    def status(self, obj):
        if obj.revoked_at:
            return "revoked"
        return "active" if obj.is_usable else "expired"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class KeyForm(form):
            def clean(self):
                cleaned = super().clean()
                role, organization = cleaned.get("role"), cleaned.get("organization")
                if (
                    role == Role.OWNER
                    and organization is not None
                    and not request.user.has_perm("tenancy.manage_owners", organization)
                ):
                    self.add_error("role", "Only an owner can create owner keys.")
                return cleaned

        return KeyForm

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = services.api_key_issue(organization=obj.organization, actor=request.user, api_key=obj)
        self.message_user(
            request,
            f"Copy this key now; it is not stored and will not be shown again: {raw}",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for api_key in queryset.select_related("organization"):
            services.api_key_revoke(
                organization=api_key.organization, actor=request.user, api_key=api_key
            )
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyTenantAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ["created_at", "organization", "actor_label", "action", "target_label", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_label", "action", "target_label", "ip_address"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields if f.name != "actor"]
    show_full_result_count = False

    @admin.display(description="IP", ordering="ip_address")
    def ip(self, obj):
        return obj.ip_address or "—"
