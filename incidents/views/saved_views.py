"""Saving and deleting a responder's own queue views."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import DomainError
from incidents import services
from incidents.selectors import saved_views_of
from tenancy.access import org_member_required
from tenancy.models import Role


def _queue_url(request, query: str = "") -> str:
    url = reverse("incidents:queue", kwargs={"org": request.organization.slug})
    return f"{url}?{query}" if query else url


@org_member_required
@require_POST
def saved_view_save(request):
    """Saves the posted queue filters as the user's view ``name`` (replacing one so named)."""
    if request.role == Role.REPORTER:
        raise PermissionDenied  # reporters have no queue, only their own incidents
    query = request.POST.get("query", "")
    try:
        view = services.saved_view_save(
            organization=request.organization,
            owner=request.user,
            name=request.POST.get("name", ""),
            query=query,
        )
    except DomainError as exc:
        messages.error(request, f"The view was not saved: {exc.message}")
        # Back to the filters as they were, when they can be read at all.
        try:
            query = services.normalize_query(query, user=request.user)
        except DomainError:
            query = ""
        return redirect(_queue_url(request, query))
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(_queue_url(request, view.query))


@org_member_required
@require_POST
def saved_view_delete(request, view: int):
    """Another user's view, or another organization's, is the same 404 as none at all."""
    saved = get_object_or_404(
        saved_views_of(organization=request.organization, user=request.user),
        pk=view,
    )
    services.saved_view_delete(organization=request.organization, owner=request.user, view=saved)
    messages.success(request, f"Deleted the view “{saved.name}”.")
    return redirect(_queue_url(request))
