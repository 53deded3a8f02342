"""The admin's tenant machinery: each organization administrator sees and edits only
their organizations.

:class:`TenantAdmin` is the base of every tenant-owned model's admin, in every app; its
choices follow the edited object's organization (:class:`TenantAdminForm`) and a domain
error from a service is shown on the form. The tenancy models' own admins are in
``tenancy/admin.py``.
"""

from __future__ import annotations

import contextvars

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.utils import timezone

from core import extensions
from core.errors import DomainError
from tenancy import audit
from tenancy.backends import roles_of
from tenancy.models import (
    Membership,
    Organization,
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


def only_organizations(queryset, org_ids, field="pk"):
    """The queryset narrowed to ``org_ids``; None (a superuser) crosses organizations."""
    if org_ids is not None:
        return queryset.filter(**{f"{field}__in": org_ids})
    return queryset.unscoped() if isinstance(queryset, TenantQuerySet) else queryset


def choices_within(queryset, org_ids):
    """Choices of organizations, tenant rows or people narrowed to the organizations
    ``org_ids`` (None: every one, for a superuser); people only while active."""
    model = queryset.model
    if model is Organization:
        return only_organizations(queryset, org_ids)
    if issubclass(model, TenantModel):
        return only_organizations(queryset, org_ids, "organization_id")
    if model is User:
        users = queryset.filter(is_active=True)
        if org_ids is not None:
            users = users.filter(memberships__organization_id__in=org_ids).distinct()
        return users
    return queryset


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

    # The organizations whose rows the admin page may offer before the edited object's
    # is known (an add page): set per request by the admin (None, for a superuser, offers
    # every one); a form the admin did not scope offers none.
    admin_org_ids: list[int] | None = []

    def __init__(self, *args, organization_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id = organization_id or getattr(self.instance, "organization_id", None)
        for name, field in self.fields.items():
            queryset = getattr(field, "queryset", None)
            if name == "organization" or not isinstance(queryset, QuerySet):
                continue
            if self.organization_id is not None:
                field.queryset = _within(queryset, self.organization_id)
            else:
                field.queryset = choices_within(queryset, self.admin_org_ids)

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
        return only_organizations(
            super().get_queryset(request), self.scoped_org_ids(request), "organization_id"
        )

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

    def admin_org_ids(self, request) -> list[int] | None:
        """The organizations whose rows this admin may offer as choices (None: all)."""
        return organizations_where(request, _perm(self.model, "add")) or (
            None if request.user.is_superuser else []
        )

    def scoped_form(self, request, form):
        """``form`` offering only the admin's organizations' rows and people."""
        if not issubclass(form, TenantAdminForm):
            return form
        return type(form.__name__, (form,), {"admin_org_ids": self.admin_org_ids(request)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related is Organization:
            kwargs["queryset"] = Organization.objects.active()
        elif issubclass(related, TenantModel) or related is User:
            kwargs["queryset"] = related._default_manager.all()
        if "queryset" in kwargs:
            kwargs["queryset"] = choices_within(kwargs["queryset"], self.admin_org_ids(request))
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


def form_changes(form):
    """(before, after) values of the fields a form changed, for the audit log."""
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
        kwargs["form"] = self.scoped_form(request, kwargs.get("form", self.form))
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
        before, after = form_changes(form)
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
            inline.instance.pk: form_changes(inline)
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


class ServiceBackedAdmin(TenantAdmin):
    """An admin whose saves and deletes go through the app's services (their checks, their
    audit), with the settings other apps keep with the record (:mod:`core.extensions`)
    after its own fields. Subclasses name the app's ``services`` module and the record:
    ``<record>_create(organization, actor, **fields)``, ``<record>_update(organization,
    actor, <record>=…, **changes)`` and ``<record>_delete(organization, actor, <record>=…)``
    are looked up there when called."""

    services = None  # the app's services module
    record = ""  # "service", "team": the services' names and keyword

    def _service(self, verb: str):
        return getattr(self.services, f"{self.record}_{verb}")

    def get_form(self, request, obj=None, change=False, **kwargs):
        declared = extensions.form_fields(self.model, obj)
        kwargs["form"] = type(f"{self.model.__name__}Form", (self.form,), declared)
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        organization = obj.organization
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data}
            if changes:
                current = self.model.objects.for_org(organization).get(pk=obj.pk)
                self._service("update")(
                    organization=organization,
                    actor=request.user,
                    **{self.record: current},
                    **changes,
                )
            return
        fields = {k: v for k, v in form.cleaned_data.items() if k != "organization"}
        created = self._service("create")(organization=organization, actor=request.user, **fields)
        obj.pk, obj.created_at = created.pk, created.created_at

    def delete_model(self, request, obj):
        self._service("delete")(
            organization=obj.organization, actor=request.user, **{self.record: obj}
        )

    def delete_queryset(self, request, queryset):
        for record in queryset.select_related("organization"):
            self.delete_model(request, record)


def kept_rows(formset) -> list | None:
    """The forms of an inline formset's rows the page keeps (existing rows not marked for
    deletion, and new rows filled in), in page order; None when nothing was changed."""
    if not formset.has_changed():
        return None
    return [
        form
        for form in formset.forms
        if form not in formset.deleted_forms and (form.instance.pk or form.has_changed())
    ]


class WholeRecordAdmin(TenantAdmin):
    """An admin whose record is written with its inline rows by one call to the app's
    services, once the page and every row are valid, as the API writes it: the
    services' checks and audit apply to the rows too, and a refused save stores nothing.

    Subclasses implement :meth:`write`; the inline rows are never saved on their own."""

    def write(self, request, form, rows: dict, change: bool):
        """Creates or changes the record through the services and returns it. ``rows``
        maps each inline's model to :func:`kept_rows` of its formset."""
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        """Nothing yet: the record is written with its rows (:meth:`save_related`)."""

    def save_related(self, request, form, formsets, change):
        rows = {formset.model: kept_rows(formset) for formset in formsets}
        for formset in formsets:  # what the change message reads of rows saved on their own
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        saved = self.write(request, form, rows, change)
        if not change:
            form.instance.pk = saved.pk
            for field in ("created_at", "updated_at"):
                if hasattr(saved, field):
                    setattr(form.instance, field, getattr(saved, field))

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        changed = [
            str(formset.model._meta.verbose_name_plural).capitalize()
            for formset in formsets
            if formset.has_changed()
        ]
        if changed and not add:
            message.append({"changed": {"fields": changed}})
        return message


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

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["form"] = self.scoped_form(request, kwargs.get("form", self.form))
        return super().get_formset(request, obj, **kwargs)

    def has_add_permission(self, request, obj=None):
        return self._has(request, "add", obj)
