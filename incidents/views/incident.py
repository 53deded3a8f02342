"""Portal pages of one incident: report one, the incident page and its actions, and the
feeds that keep an open page current.

Every read starts from ``incidents_visible`` (reporters see only what they reported) and
every write goes through ``incidents.services`` with the request's organization and user.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from incidents import services
from incidents.forms import (
    AssignmentForm,
    CommentForm,
    ReportForm,
    StatusUpdateForm,
    TransitionForm,
)
from incidents.models import Incident
from incidents.selectors import incident_workers, timeline_visible
from incidents.states import Status
from incidents.views.closure import confirm_or_reopen
from incidents.views.common import (
    incident_or_404,
    iso,
    parse_iso,
    services_of,
    teams_of,
    timeline_entries,
)
from incidents.views.page import done, render_detail
from tenancy.access import org_member_required
from tenancy.models import Role


@org_member_required
@require_http_methods(["GET", "POST"])
def report(request):
    """Anyone who may create incidents, reporters included, in plain words."""
    organization = request.organization
    if not request.user.has_perm("incidents.add_incident", organization):
        raise PermissionDenied
    form = ReportForm(
        request.POST or None, request.FILES or None, services=services_of(organization)
    )
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        uploads = fields.pop("files", None) or []
        try:
            with transaction.atomic():
                incident = services.incident_create(
                    organization=organization,
                    actor=request.user,
                    reporter=request.user,
                    source=Incident.Source.PORTAL,
                    **fields,
                )
                services.attachments_add_all(
                    organization=organization,
                    actor=request.user,
                    incident=incident,
                    uploads=uploads,
                )
        except DomainError as exc:
            field = "files" if exc.field == "file" else exc.field
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                f"Thank you: your report is {incident.reference}. "
                "Follow it here; we will post updates on this page.",
            )
            return redirect("incidents:detail", org=organization.slug, number=incident.number)
    return render(request, "incidents/new.html", {"form": form})


@org_member_required
@require_http_methods(["GET", "POST"])
def detail(request, number: int):
    incident = incident_or_404(request, number)
    if request.method == "POST":
        return _act(request, incident)
    return render_detail(request, incident)


def _transition(request, incident):
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return render_detail(
            request,
            incident,
            bound={"transition": form},
            error="That status change was not understood.",
            status=400,
        )
    data = form.cleaned_data
    target = data["status"]
    resolution = data["resolution"].strip() if target == Status.RESOLVED else ""
    try:
        changed = services.incident_transition(
            organization=request.organization,
            actor=request.user,
            incident=incident,
            status=target,
            note=data["note"].strip(),
            resolution=resolution or None,
        )
    except DomainError as exc:
        return render_detail(
            request,
            incident,
            bound={"transition": form},
            error=exc.message,
            status=exc.status_code,
        )
    return done(request, changed, f"{changed.reference} is now {changed.get_status_display()}.")


def _comment(request, incident):
    form = CommentForm(request.POST)
    if not form.is_valid():
        return render_detail(
            request, incident, bound={"comment": form}, error="Write a comment.", status=400
        )
    is_public = request.role == Role.REPORTER or form.cleaned_data["is_public"]
    try:
        services.incident_comment(
            organization=request.organization,
            actor=request.user,
            incident=incident,
            body=form.cleaned_data["body"],
            is_public=is_public,
        )
    except DomainError as exc:
        return render_detail(
            request, incident, bound={"comment": form}, error=exc.message, status=exc.status_code
        )
    return done(request, incident, "Your comment is added.", "#timeline")


def _post_update(request, incident):
    form = StatusUpdateForm(request.POST)
    if not form.is_valid():
        return render_detail(
            request, incident, bound={"post_update": form}, error="Write the update.", status=400
        )
    try:
        services.incident_post_update(
            organization=request.organization,
            actor=request.user,
            incident=incident,
            body=form.cleaned_data["body"],
        )
    except DomainError as exc:
        return render_detail(
            request,
            incident,
            bound={"post_update": form},
            error=exc.message,
            status=exc.status_code,
        )
    return done(request, incident, "The status update is posted.", "#timeline")


def _assign(request, incident):
    organization = request.organization
    form = AssignmentForm(
        request.POST,
        incident=incident,
        members=incident_workers(organization=organization),
        teams=teams_of(organization),
    )
    if not form.is_valid():
        return render_detail(
            request,
            incident,
            bound={"assign": form},
            error="Some of those choices are not possible; nothing was changed.",
            status=400,
        )
    changes = form.changes()
    if not changes:
        messages.info(request, "Nothing to change.")
        return redirect("incidents:detail", org=organization.slug, number=incident.number)
    try:
        services.incident_update(
            organization=organization, actor=request.user, incident=incident, **changes
        )
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return render_detail(
            request, incident, bound={"assign": form}, error=exc.message, status=exc.status_code
        )
    names = ", ".join(form[name].label for name in changes)
    return done(request, incident, f"Saved: {names.lower()}.")


def _take(request, incident):
    try:
        services.incident_update(
            organization=request.organization,
            actor=request.user,
            incident=incident,
            assignee=request.user,
        )
    except DomainError as exc:
        return render_detail(request, incident, error=exc.message, status=exc.status_code)
    return done(request, incident, f"You are the assignee of {incident.reference}.")


ACTIONS = {
    "transition": ("incidents.change_incident", _transition),
    # Services check that the actor is the reporter (or a responder).
    "confirm": ("incidents.view_incident", confirm_or_reopen),
    "reopen": ("incidents.view_incident", confirm_or_reopen),
    "comment": ("incidents.comment_incident", _comment),
    "post_update": ("incidents.post_update_incident", _post_update),
    "assign": ("incidents.change_incident", _assign),
    "take": ("incidents.change_incident", _take),
}


def _act(request, incident):
    """One POST endpoint per incident; the ``action`` field names the form that was sent."""
    try:
        permission, handler = ACTIONS[request.POST.get("action", "")]
    except KeyError:
        return render_detail(request, incident, error="Unknown action.", status=400)
    if not request.user.has_perm(permission, incident):
        raise PermissionDenied
    return handler(request, incident)


@org_member_required
@require_GET
@never_cache
def timeline_fragment(request, number: int):
    """The timeline as an HTML fragment, for live.js to swap into the incident page."""
    incident = incident_or_404(request, number)
    return render(
        request,
        "incidents/_timeline.html",
        {
            "incident": incident,
            "entries": timeline_entries(request, incident),
            "show_visibility": request.role not in (Role.REPORTER, Role.STAKEHOLDER),
        },
    )


@org_member_required
@require_GET
@never_cache
def incident_changes(request, number: int):
    """Has the incident changed since ``since`` (a timeline entry id, or an ISO time)?"""
    incident = incident_or_404(request, number)
    entries = timeline_visible(
        organization=request.organization, incident=incident, role=request.role
    )
    last = entries.order_by("-id").values_list("id", flat=True).first() or 0
    since = request.GET.get("since", "").strip()
    if not since:
        changed = True
    elif re.fullmatch(r"[0-9]{1,18}", since):
        changed = last > int(since)
    else:
        moment = parse_iso(since)
        if moment is None:
            return JsonResponse(
                {"since": ["Give a timeline entry id or an ISO 8601 time."]}, status=400
            )
        changed = incident.updated_at > moment or entries.filter(created_at__gt=moment).exists()
    return JsonResponse(
        {
            "number": incident.number,
            "changed": changed,
            "since": last,
            "status": incident.status,
            "status_label": incident.get_status_display(),
            "updated_at": iso(incident.updated_at),
        }
    )
