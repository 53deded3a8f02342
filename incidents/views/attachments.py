"""Portal pages for incident attachments: upload from the incident page, download and
remove through permission-checked views (files are never served from MEDIA_ROOT)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from incidents import rules, services
from incidents.api.attachments import file_response
from incidents.forms import AttachmentForm
from incidents.models import Attachment, Incident
from incidents.views.common import incident_or_404
from incidents.views.page import render_detail
from tenancy.access import org_member_required


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
    incident = incident_or_404(request, number)
    if not rules.may_attach(request.user, incident):
        raise PermissionDenied
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_detail(
            request,
            incident,
            bound={"attach": form},
            error="The files were not attached: " + " ".join(form.errors.get("files", [])),
            status=400,
        )
    try:
        stored = services.attachments_add_all(
            organization=request.organization,
            actor=request.user,
            incident=incident,
            uploads=form.cleaned_data["files"],
        )
    except DomainError as exc:
        form.add_error("files", exc.message)
        return render_detail(
            request, incident, bound={"attach": form}, error=exc.message, status=exc.status_code
        )
    messages.success(request, f"Attached {len(stored)} file{'s' if len(stored) != 1 else ''}.")
    return redirect(_detail_url(request, incident) + "#attachments")


@org_member_required
@require_http_methods(["GET", "POST"])
@never_cache
def attachment(request, number: int, attachment_id: int):
    """GET downloads the file; POST removes it (responders and up)."""
    incident = incident_or_404(request, number)
    found = _attachment_or_404(request, incident, attachment_id)
    if request.method == "GET":
        if not request.user.has_perm("incidents.view_attachment", found):
            raise Http404("No such attachment.")
        return file_response(found)
    if not rules.may_remove_attachment(request.user, found):
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
