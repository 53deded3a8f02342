"""Portal pages for incident attachments: upload from the incident page, download and
remove through permission-checked views (files are never served from MEDIA_ROOT)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from incidents import services
from incidents.api.attachments import file_response
from incidents.attachments import check_upload
from incidents.models import Attachment, Incident
from incidents.selectors import incidents_visible
from tenancy.access import org_member_required

MAX_FILES = 10


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked like an API upload."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        files = [super(MultipleFileField, self).clean(f, initial) for f in files if f]
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"At most {MAX_FILES} files at a time.")
        errors = []
        for upload in files:
            try:
                check_upload(upload)
            except DomainError as exc:
                errors.append(forms.ValidationError(f"{upload.name}: {exc.message}"))
        if errors:
            raise forms.ValidationError(errors)
        return files


def files_field(**kwargs) -> MultipleFileField:
    return MultipleFileField(
        help_text="Optional: screenshots, logs, PDF, CSV, JSON or ZIP, up to 10 MB each.",
        **kwargs,
    )


class AttachmentForm(forms.Form):
    files = files_field(label="Files")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def attach_all(*, organization, actor, incident: Incident, uploads) -> list[Attachment]:
    """Stores every upload, or none of them: a failure removes those already stored. The
    incident's quota is checked for all of them first."""
    services.attachment_quota_check(
        organization=organization, incident=incident, sizes=[upload.size for upload in uploads]
    )
    stored = []
    try:
        for upload in uploads:
            stored.append(
                services.attachment_add(
                    organization=organization, actor=actor, incident=incident, upload=upload
                )
            )
    except BaseException:
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
    return stored


def can_attach(user, incident: Incident) -> bool:
    if not user.has_perm("incidents.add_attachment", incident):
        return False
    return user.has_perm("incidents.change_incident", incident) or (
        user.pk is not None and user.pk == incident.reporter_id
    )


def detail_context(request, incident: Incident, form: AttachmentForm | None = None) -> dict:
    """What the incident page shows about attachments (one query)."""
    attachments = list(
        Attachment.objects.for_org(request.organization)
        .filter(incident=incident)
        .select_related("uploaded_by")
        .order_by("created_at", "id")
    )
    return {
        "attachments": attachments,
        "can_attach": can_attach(request.user, incident),
        "can_remove_attachments": request.user.has_perm("incidents.delete_attachment", incident),
        "attachment_form": form or AttachmentForm(),
    }


def _incident_or_404(request, number: int) -> Incident:
    visible = incidents_visible(
        organization=request.organization, user=request.user, role=request.role
    )
    return get_object_or_404(visible, number=number)


def _attachment_or_404(request, incident: Incident, attachment_id: int) -> Attachment:
    return get_object_or_404(
        Attachment.objects.for_org(request.organization).filter(incident=incident),
        pk=attachment_id,
    )


def _detail_url(request, incident: Incident) -> str:
    return reverse(
        "incidents:detail", kwargs={"org": request.organization.slug, "number": incident.number}
    )


@org_member_required
@require_POST
def upload(request, number: int):
    from incidents.views import _render_detail

    incident = _incident_or_404(request, number)
    if not can_attach(request.user, incident):
        raise PermissionDenied
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(
            request,
            incident,
            bound={"attach": form},
            error="The files were not attached: " + " ".join(form.errors.get("files", [])),
            status=400,
        )
    try:
        stored = attach_all(
            organization=request.organization,
            actor=request.user,
            incident=incident,
            uploads=form.cleaned_data["files"],
        )
    except DomainError as exc:
        form.add_error("files", exc.message)
        return _render_detail(
            request, incident, bound={"attach": form}, error=exc.message, status=exc.status_code
        )
    messages.success(request, f"Attached {len(stored)} file{'s' if len(stored) != 1 else ''}.")
    return redirect(_detail_url(request, incident) + "#attachments")


@org_member_required
@require_http_methods(["GET", "POST"])
@never_cache
def attachment(request, number: int, attachment_id: int):
    """GET downloads the file; POST removes it (responders and up)."""
    incident = _incident_or_404(request, number)
    found = _attachment_or_404(request, incident, attachment_id)
    if request.method == "GET":
        if not request.user.has_perm("incidents.view_attachment", found):
            raise Http404("No such attachment.")
        return file_response(found)
    if not request.user.has_perm("incidents.delete_attachment", found):
        raise PermissionDenied
    try:
        services.attachment_remove(
            organization=request.organization, actor=request.user, attachment=found
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Removed {found.original_name}.")
    return redirect(_detail_url(request, incident) + "#attachments")


urlpatterns = [
    path("o/<slug:org>/incidents/<int:number>/attachments/", upload, name="attachments"),
    path(
        "o/<slug:org>/incidents/<int:number>/attachments/<int:attachment_id>/",
        attachment,
        name="attachment",
    ),
]
