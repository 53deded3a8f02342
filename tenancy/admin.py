"""Admin for organization administrators: each sees and edits only their organizations.

:class:`TenantAdmin` is the base of every tenant-owned model's admin, in every app.
"""

from __future__ import annotations

import contextvars

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.utils import timezone

from core.errors import DomainError
from tenancy import audit, services
from tenancy.backends import roles_of
from tenancy.models import (
    ApiKey,
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    Role,
    Team,
    TeamMembership,
    TenantModel,
    TenantQuerySet,
)
from tenancy.roles import role_has_perm

User = get_user_model()
# The domain error a save in the admin was refused with, while its form is shown again.
_refused: contextvars.ContextVar[DomainError | None] = contextvars.ContextVar(
    "tenant_admin_refused", default=None
)


def _perm(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def organizations_where(request, perm: str):
    """Ids of the organizations where the user's role grants ``perm``; None means all."""
    if request.user.is_superuser:
        return None
    return [org_id for org_id, role in roles_of(request.user).items() if role_has_perm(role, perm)]


def _only(queryset, org_ids, field="pk"):
    """The queryset narrowed to ``org_ids``; None (a superuser) crosses organizations."""
    if org_ids is not None:
        return queryset.filter(**{f"{field}__in": org_ids})
    return queryset.unscoped() if isinstance(queryset, TenantQuerySet) else queryset


def _within(queryset, organization_id: int):
    """Choices of a tenant row or a person narrowed to one organization."""
    model = queryset.model
    if issubclass(model, TenantModel):
        return queryset.filter(organization_id=organization_id)
    if model is User:
        return queryset.filter(memberships__organization_id=organization_id).distinct()
    return queryset


def _belongs(value, organization) -> bool:
    if isinstance(value, TenantModel):
        return value.organization_id == organization.pk
    if isinstance(value, User):
        return Membership.objects.for_org(organization).filter(user_id=value.pk).exists()
    return True


class TenantAdminForm(forms.ModelForm):
    """Every tenant row and person the form names belongs to the edited object's
    organization: choices are narrowed to it once it is known (a change form, an inline
    row), and on an add form, where the organization is one of the choices, the save is
    checked against the organization chosen."""

    def __init__(self, *args, organization_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id = organization_id or getattr(self.instance, "organization_id", None)
        if self.organization_id is None:
            return
        for name, field in self.fields.items():
            queryset = getattr(field, "queryset", None)
            if name != "organization" and isinstance(queryset, QuerySet):
                field.queryset = _within(queryset, self.organization_id)

    def _organization(self):
        if "organization" in self.fields:
            # None when not chosen or not a valid choice: that field says so.
            return self.cleaned_data.get("organization")
        if self.organization_id is None:
            return None
        if self.instance.organization_id == self.organization_id:
            return self.instance.organization
        return Organization.objects.filter(pk=self.organization_id).first()

    def clean(self):
        cleaned = super().clean()
        organization = self._organization()
        if organization is not None:
            for name in list(cleaned):
                value = cleaned[name]
                values = value if isinstance(value, QuerySet | list | tuple) else [value]
                foreign = [item for item in values if not _belongs(item, organization)]
                if foreign:
                    kind = foreign[0]._meta.verbose_name_plural
                    kind = "members" if isinstance(foreign[0], User) else kind
                    self.add_error(name, f"Choose one of {organization.name}’s {kind}.")
        return cleaned


class OrganizationScopedAdminMixin:
    """Narrows querysets, choices and object permissions to the user's organizations.

    An object of another organization answers 404 on its change, delete and history pages.
    """

    def scoped_org_ids(self, request, action="view"):
        return organizations_where(request, _perm(self.model, action))

    def get_queryset(self, request):
        return _only(super().get_queryset(request), self.scoped_org_ids(request), "organization_id")

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def _has(self, request, action, obj):
        if obj is None:
            return request.user.has_perm(_perm(self.model, action))
        return request.user.has_perm(_perm(self.model, action), obj)

    def has_view_permission(self, request, obj=None):
        return self._has(request, "view", obj) or self._has(request, "change", obj)

    def has_change_permission(self, request, obj=None):
        return self._has(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return self._has(request, "delete", obj)

    def has_add_permission(self, request, *args):
        return self._has(request, "add", None)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        org_ids = organizations_where(request, _perm(self.model, "add")) or (
            None if request.user.is_superuser else []
        )
        if related is Organization:
            kwargs["queryset"] = _only(Organization.objects.active(), org_ids)
        elif issubclass(related, TenantModel):
            kwargs["queryset"] = _only(related.objects.all(), org_ids, "organization_id")
        elif related is User:
            users = User.objects.filter(is_active=True)
            if org_ids is not None:
                users = users.filter(memberships__organization_id__in=org_ids).distinct()
            kwargs["queryset"] = users
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        org_ids = organizations_where(request, _perm(self.model, "add"))
        if org_ids and len(org_ids) == 1:
            initial.setdefault("organization", org_ids[0])
        return initial

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        org_ids = self.scoped_org_ids(request)
        if org_ids is None or len(org_ids) > 1:
            # Offer only the organizations that the (scoped) list itself contains.
            filters.insert(0, ("organization", admin.RelatedOnlyFieldListFilter))
        return filters

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and "organization" not in fields:
            fields.append("organization")  # rows never move between organizations
        return fields


def _changes(form):
    before = {field: form.initial.get(field) for field in form.changed_data}
    after = {field: form.cleaned_data.get(field) for field in form.changed_data}
    return before, after


class TenantAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    """Every change made here enters the organization's audit log.

    Saves go through the app's services where it has them; a :class:`DomainError` they
    raise rolls the save back and shows the form again with the error on its field.
    """

    form = TenantAdminForm
    list_select_related = ["organization"]

    def get_object(self, request, object_id, from_field=None):
        """An object's pages show times in its organization's zone, whoever administers
        it; the admin site restores the request's zone afterwards."""
        obj = super().get_object(request, object_id, from_field)
        timezone.activate(obj.organization.timezone)
        return obj

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if _refused.get() is None:
            return form

        class RefusedForm(form):
            def clean(self):
                cleaned = super().clean()
                refused = _refused.get()
                field = refused.field if refused.field in self.fields else None
                self.add_error(field, refused.message)
                return cleaned

        return RefusedForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # The page's savepoint is rolled back; the same POST is shown with the error.
            token = _refused.set(exc)
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            finally:
                _refused.reset(token)

    def save_related(self, request, form, formsets, change):
        try:
            super().save_related(request, form, formsets, change)
        except DomainError as exc:
            raise DomainError(exc.message) from exc  # about an inline row: not a form field

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def _audit(self, request, obj, verb, **kwargs):
        audit.record(
            organization=obj.organization,
            actor=request.user,
            action=f"{obj._meta.model_name}.{verb}",
            target=obj,
            **kwargs,
        )

    def save_model(self, request, obj, form, change):
        before, after = _changes(form)
        super().save_model(request, obj, form, change)
        self._audit(request, obj, "updated" if change else "created", before=before, after=after)

    def delete_model(self, request, obj):
        self._audit(request, obj, "deleted")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "deleted")
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        changes = {
            inline.instance.pk: _changes(inline)
            for inline in formset.initial_forms
            if inline.has_changed()
        }
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            self._audit(request, obj, "created", after={"parent": str(form.instance)})
        for obj, _ in formset.changed_objects:
            before, after = changes[obj.pk]
            self._audit(request, obj, "updated", before=before, after=after)
        for obj in formset.deleted_objects:
            self._audit(request, obj, "deleted", before={"parent": str(form.instance)})


class ReadOnlyTenantAdmin(TenantAdmin):
    """Rows something else writes (the audit log, received alerts): the admin reads them."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TenantInlineFormSet(BaseInlineFormSet):
    """Existing rows are looked up inside the parent's organization only, and each row's
    choices follow that organization (see :class:`TenantAdminForm`)."""

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if issubclass(self.form, TenantAdminForm):
            kwargs["organization_id"] = self.instance.organization_id
        return kwargs

    def add_fields(self, form, index):
        super().add_fields(form, index)
        pk_field = form.fields.get(self._pk_field.name)
        if pk_field is not None and hasattr(pk_field, "queryset"):
            pk_field.queryset = self.model.objects.for_org(self.instance.organization_id)


class TenantInline(OrganizationScopedAdminMixin, admin.TabularInline):
    """Inline rows take their organization from the parent object."""

    form = TenantAdminForm
    formset = TenantInlineFormSet
    exclude = ["organization"]
    extra = 0

    def has_add_permission(self, request, obj=None):
        return self._has(request, "add", obj)


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
        return _only(
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
        before, after = _changes(form)
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
class TeamAdmin(TenantAdmin):
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
