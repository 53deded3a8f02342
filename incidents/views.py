"""Portal pages for incidents: report one, follow mine, work the queue, the incident page,
and the change feeds that keep an open page current.

Every read starts from ``incidents_visible`` (reporters see only what they reported) and
every write goes through ``incidents.services`` with the request's organization and user.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from incidents import attachment_views, saved_views, services, timeline
from incidents.forms import (
    SAVED_VIEWS,
    AssignmentForm,
    CommentForm,
    ConfirmClosureForm,
    QueueFilterForm,
    ReopenForm,
    ReportForm,
    StatusUpdateForm,
    TransitionForm,
)
from incidents.models import Incident, Service
from incidents.panels import incident_panels
from incidents.selectors import (
    incident_workers,
    incidents_visible,
    satisfaction_visible,
    timeline_visible,
)
from incidents.states import Status, allowed_targets
from tenancy import rls
from tenancy.access import org_member_required
from tenancy.models import Membership, Organization, Role, Team

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Bounds the queue feed's answer: past this, "100+ changed" says enough.
CHANGES_CAP = 100

VERBS = {
    Status.ACKNOWLEDGED: "Acknowledge",
    Status.IN_PROGRESS: "Start work",
    Status.ON_HOLD: "Put on hold",
    Status.RESOLVED: "Resolve",
    Status.CLOSED: "Close",
    Status.CANCELLED: "Cancel incident",
}


# Reads -------------------------------------------------------------------------------


def _visible(request):
    return incidents_visible(
        organization=request.organization, user=request.user, role=request.role
    )


def _incident_or_404(request, number: int) -> Incident:
    """Another organization's number, or another reporter's incident: the same 404."""
    return get_object_or_404(_visible(request), number=number)


def _timeline(request, incident) -> list:
    return timeline.describe_all(
        request.organization,
        list(
            timeline_visible(
                organization=request.organization, incident=incident, role=request.role
            )
        ),
    )


def _members(organization) -> list:
    return [
        membership.user
        for membership in Membership.objects.for_org(organization)
        .select_related("user")
        .order_by("user__username")
    ]


def _teams(organization) -> list[Team]:
    return list(Team.objects.for_org(organization).order_by("name"))


def _services(organization) -> list[Service]:
    return list(Service.objects.for_org(organization).order_by("name"))


def _poll_seconds() -> int:
    return getattr(settings, "BEACON_LIVE_POLL_SECONDS", 10)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(value: str) -> datetime | None:
    value = value.strip().replace(" ", "+")[:64]  # a "+" that arrived unencoded
    try:
        moment = datetime.fromisoformat(value)
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)  # out of range once in UTC (year 1 east of it)
    except (ValueError, OverflowError):
        return None


# Keyset pagination on (created_at, id), newest first: no COUNT(*), no OFFSET.


def _cursor(incident: Incident) -> str:
    delta = incident.created_at - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}-{incident.pk}"


def _parse_cursor(value: str) -> tuple[datetime, int] | None:
    match = re.fullmatch(r"([0-9]{1,17})-([0-9]{1,18})", value or "")
    if match is None:
        return None
    try:
        return EPOCH + timedelta(microseconds=int(match[1])), int(match[2])
    except OverflowError:
        return None


def _page(incidents, before: str) -> tuple[list[Incident], str | None]:
    cursor = _parse_cursor(before)
    if cursor is not None:
        created_at, pk = cursor
        incidents = incidents.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk)
        )
    rows = list(incidents.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    older = _cursor(rows[PAGE_SIZE - 1]) if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], older


def _query(items) -> str:
    return "?" + urlencode(items) if items else "?"


# Pages -------------------------------------------------------------------------------


@org_member_required
@require_http_methods(["GET", "POST"])
def report(request):
    """Anyone who may create incidents, reporters included, in plain words."""
    organization = request.organization
    if not request.user.has_perm("incidents.add_incident", organization):
        raise PermissionDenied
    form = ReportForm(request.POST or None, request.FILES or None, services=_services(organization))
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
                attachment_views.attach_all(
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
@require_GET
def mine(request):
    incidents = _visible(request).filter(reporter_id=request.user.pk)
    rows, older = _page(incidents, request.GET.get("before", ""))
    return render(
        request,
        "incidents/mine.html",
        {
            "incidents": rows,
            "older_url": _query([("before", older)]) if older else None,
            "paged": bool(_parse_cursor(request.GET.get("before", ""))),
            "changes_url": reverse("incidents:changes", kwargs={"org": request.organization.slug})
            + "?mine=1",
            "since": _iso(timezone.now()),
            "poll_seconds": _poll_seconds(),
            "can_report": request.user.has_perm("incidents.add_incident", request.organization),
        },
    )


@org_member_required
@require_GET
def queue(request):
    """Every incident of the organization, filtered; reporters go to their own."""
    organization = request.organization
    if request.role == Role.REPORTER:
        return redirect("incidents:mine", org=organization.slug)
    form = QueueFilterForm(
        request.GET,
        user=request.user,
        services=_services(organization),
        teams=_teams(organization),
        members=_members(organization),
    )
    before = request.GET.get("before", "")
    rows, older = _page(form.apply(_visible(request)), before)
    current = form.query_items()
    own_views = saved_views.saved_views_of(organization=organization, user=request.user)
    return render(
        request,
        "incidents/queue.html",
        {
            "form": form,
            "incidents": rows,
            "older_url": _query([*current, ("before", older)]) if older else None,
            "newest_url": _query(current) if _parse_cursor(before) else None,
            "saved_views": [
                {"name": name, "url": _query(items), "active": sorted(items) == sorted(current)}
                for name, items in SAVED_VIEWS
            ],
            "own_views": [
                {
                    "id": view.pk,
                    "name": view.name,
                    "url": f"?{view.query}",
                    "active": sorted(parse_qsl(view.query)) == sorted(current),
                }
                for view in own_views
            ],
            "current_query": urlencode(current),
            "ignored_filters": bool(form.errors),
            "changes_url": reverse("incidents:changes", kwargs={"org": organization.slug})
            + _query(current),
            "since": _iso(timezone.now()),
            "poll_seconds": _poll_seconds(),
        },
    )


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
        view = saved_views.saved_view_save(
            organization=request.organization,
            owner=request.user,
            name=request.POST.get("name", ""),
            query=query,
        )
    except DomainError as exc:
        messages.error(request, f"The view was not saved: {exc.message}")
        # Back to the filters as they were, when they can be read at all.
        try:
            query = saved_views.normalize_query(query, user=request.user)
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
        saved_views.saved_views_of(organization=request.organization, user=request.user),
        pk=view,
    )
    saved_views.saved_view_delete(organization=request.organization, owner=request.user, view=saved)
    messages.success(request, f"Deleted the view “{saved.name}”.")
    return redirect(_queue_url(request))


@org_member_required
@require_http_methods(["GET", "POST"])
def detail(request, number: int):
    incident = _incident_or_404(request, number)
    if request.method == "POST":
        return _act(request, incident)
    return _render_detail(request, incident)


def _render_detail(request, incident, *, bound=None, error: str = "", status: int = 200):
    organization = request.organization
    user = request.user
    bound = bound or {}
    can_change = user.has_perm("incidents.change_incident", incident)
    entries = _timeline(request, incident)
    context = {
        "incident": incident,
        "entries": entries,
        "last_entry": max((entry.id for entry in entries), default=0),
        "show_visibility": request.role not in (Role.REPORTER, Role.STAKEHOLDER),
        "can_comment": user.has_perm("incidents.comment_incident", incident),
        "can_post_update": user.has_perm("incidents.post_update_incident", incident),
        "can_change": can_change,
        "comment_is_always_public": request.role == Role.REPORTER,
        "comment_form": bound.get("comment") or CommentForm(),
        "update_form": bound.get("post_update") or StatusUpdateForm(),
        "transition_form": bound.get("transition"),
        "error": error,
        "back_url": reverse(
            "incidents:mine" if request.role == Role.REPORTER else "incidents:queue",
            kwargs={"org": organization.slug},
        ),
        "poll_seconds": _poll_seconds(),
        "shows_satisfaction": (
            incident.satisfaction_score is not None or bool(incident.satisfaction_comment)
        )
        and satisfaction_visible(user=user, incident=incident),
        **attachment_views.detail_context(request, incident, bound.get("attach")),
        "incident_panels": incident_panels(request, incident),
    }
    if _shows_closure(user, incident):
        context["confirm_form"] = bound.get("confirm") or ConfirmClosureForm()
        context["reopen_form"] = bound.get("reopen") or ReopenForm()
    if can_change:
        context["transitions"] = [
            {
                "status": target,
                "label": Status(target).label,
                "verb": "Reopen"
                if incident.status == Status.RESOLVED and target == Status.IN_PROGRESS
                else VERBS[target],
            }
            for target in allowed_targets(incident.status)
        ]
        context["assignment_form"] = bound.get("assign") or AssignmentForm(
            incident=incident,
            members=incident_workers(organization=organization),
            teams=_teams(organization),
        )
    return render(request, "incidents/detail.html", context, status=status)


def _done(request, incident, message: str, anchor: str = ""):
    messages.success(request, message)
    url = reverse(
        "incidents:detail",
        kwargs={"org": request.organization.slug, "number": incident.number},
    )
    return redirect(url + anchor)


def _transition(request, incident):
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return _render_detail(
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
        return _render_detail(
            request,
            incident,
            bound={"transition": form},
            error=exc.message,
            status=exc.status_code,
        )
    return _done(request, changed, f"{changed.reference} is now {changed.get_status_display()}.")


def _comment(request, incident):
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _render_detail(
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
        return _render_detail(
            request, incident, bound={"comment": form}, error=exc.message, status=exc.status_code
        )
    return _done(request, incident, "Your comment is added.", "#timeline")


def _post_update(request, incident):
    form = StatusUpdateForm(request.POST)
    if not form.is_valid():
        return _render_detail(
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
        return _render_detail(
            request,
            incident,
            bound={"post_update": form},
            error=exc.message,
            status=exc.status_code,
        )
    return _done(request, incident, "The status update is posted.", "#timeline")


def _assign(request, incident):
    organization = request.organization
    form = AssignmentForm(
        request.POST,
        incident=incident,
        members=incident_workers(organization=organization),
        teams=_teams(organization),
    )
    if not form.is_valid():
        return _render_detail(
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
        return _render_detail(
            request, incident, bound={"assign": form}, error=exc.message, status=exc.status_code
        )
    names = ", ".join(form[name].label for name in changes)
    return _done(request, incident, f"Saved: {names.lower()}.")


def _take(request, incident):
    try:
        services.incident_update(
            organization=request.organization,
            actor=request.user,
            incident=incident,
            assignee=request.user,
        )
    except DomainError as exc:
        return _render_detail(request, incident, error=exc.message, status=exc.status_code)
    return _done(request, incident, f"You are the assignee of {incident.reference}.")


def _shows_closure(user, incident) -> bool:
    """The confirm-or-reopen forms: for the reporter of a resolved incident."""
    return (
        incident.status == Status.RESOLVED
        and user.pk is not None
        and user.pk == incident.reporter_id
        and (
            user.has_perm("incidents.confirm_incident", incident)
            or user.has_perm("incidents.change_incident", incident)
        )
    )


def _closure(request, incident, *, actor, organization, on_error):
    """Runs the reporter's confirm or reopen form; returns (message, None) or (None, response)."""
    if request.POST.get("action") == "confirm":
        form, key = ConfirmClosureForm(request.POST), "confirm"
    else:
        form, key = ReopenForm(request.POST), "reopen"
    if not form.is_valid():
        return None, on_error(form, key, "Please check the form.", 400)
    try:
        if key == "confirm":
            changed = services.incident_confirm_closure(
                organization=organization,
                actor=actor,
                incident=incident,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
            )
            message = f"Thank you: {changed.reference} is closed."
        else:
            changed = services.incident_reopen(
                organization=organization,
                actor=actor,
                incident=incident,
                reason=form.cleaned_data["reason"],
            )
            message = f"{changed.reference} is reopened; the responders will look at it again."
    except DomainError as exc:
        return None, on_error(form, key, exc.message, exc.status_code)
    return message, None


def _confirm_or_reopen(request, incident):
    def on_error(form, key, error, status):
        return _render_detail(request, incident, bound={key: form}, error=error, status=status)

    message, response = _closure(
        request,
        incident,
        actor=request.user,
        organization=request.organization,
        on_error=on_error,
    )
    return response or _done(request, incident, message)


ACTIONS = {
    "transition": ("incidents.change_incident", _transition),
    # Services check that the actor is the reporter (or a responder).
    "confirm": ("incidents.view_incident", _confirm_or_reopen),
    "reopen": ("incidents.view_incident", _confirm_or_reopen),
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
        return _render_detail(request, incident, error="Unknown action.", status=400)
    if not request.user.has_perm(permission, incident):
        raise PermissionDenied
    return handler(request, incident)


# The reporter's e-mail link --------------------------------------------------------------


@sensitive_variables("token")
@never_cache
@require_http_methods(["GET", "POST"])
def closure_confirm(request, org: str, number: int, token: str):
    """Confirm or reopen from the e-mail link, without logging in: the signed token (this
    incident, this resolution, its reporter, 14 days) is the authorization."""
    organization = Organization.objects.active().filter(slug=org).first()
    if organization is None:
        return _link_invalid(request)
    with transaction.atomic():
        rls.set_tenant([organization.pk])
        incidents = (
            Incident.objects.for_org(organization)
            .select_related("reporter", "organization")
            .filter(number=number)
        )
        if request.method == "POST":
            # Checked and acted on under one lock: a resolution that lands between the two
            # cannot be confirmed by a link made for an earlier one.
            incidents = incidents.select_for_update(of=("self",))
        incident = incidents.first()
        if incident is None or not services.closure_token_valid(incident, token):
            return _link_invalid(request)
        context = {"incident": incident, "closure_action": request.path}
        if request.method == "POST":

            def on_error(form, key, error, status):
                forms = {"confirm": ConfirmClosureForm(), "reopen": ReopenForm(), key: form}
                return render(
                    request,
                    "incidents/confirm.html",
                    {
                        **context,
                        "confirm_form": forms["confirm"],
                        "reopen_form": forms["reopen"],
                        "error": error,
                    },
                    status=status,
                )

            message, response = _closure(
                request,
                incident,
                actor=incident.reporter,
                organization=organization,
                on_error=on_error,
            )
            if response is not None:
                return response
            return render(request, "incidents/confirm.html", {**context, "done": message})
        return render(
            request,
            "incidents/confirm.html",
            {**context, "confirm_form": ConfirmClosureForm(), "reopen_form": ReopenForm()},
        )


def _link_invalid(request):
    return render(request, "incidents/confirm.html", {"invalid": True}, status=400)


# Live updates --------------------------------------------------------------------------


@org_member_required
@require_GET
@never_cache
def timeline_fragment(request, number: int):
    """The timeline as an HTML fragment, for live.js to swap into the incident page."""
    incident = _incident_or_404(request, number)
    return render(
        request,
        "incidents/_timeline.html",
        {
            "incident": incident,
            "entries": _timeline(request, incident),
            "show_visibility": request.role not in (Role.REPORTER, Role.STAKEHOLDER),
        },
    )


@org_member_required
@require_GET
@never_cache
def incident_changes(request, number: int):
    """Has the incident changed since ``since`` (a timeline entry id, or an ISO time)?"""
    incident = _incident_or_404(request, number)
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
        moment = _parse_iso(since)
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
            "updated_at": _iso(incident.updated_at),
        }
    )


@org_member_required
@require_GET
@never_cache
def queue_changes(request):
    """How many incidents matching the queue's filters were created or changed since
    ``since`` (an ISO time); at most CHANGES_CAP are counted."""
    moment = _parse_iso(request.GET.get("since", ""))
    if moment is None:
        return JsonResponse({"since": ["Give an ISO 8601 time."]}, status=400)
    form = QueueFilterForm(request.GET, user=request.user)
    changed = form.apply(_visible(request)).filter(updated_at__gt=moment)
    count = len(changed.order_by().values_list("id", flat=True)[:CHANGES_CAP])
    return JsonResponse(
        {"changed": count, "capped": count >= CHANGES_CAP, "now": _iso(timezone.now())}
    )
