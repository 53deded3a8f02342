"""The queue of an organization's incidents (filtered, paged, with built-in and saved
views), "my incidents", and the feed that tells an open queue what changed."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from incidents.filters import SAVED_VIEWS, QueueFilter
from incidents.selectors import member_users, saved_views_of
from incidents.views.common import (
    iso,
    parse_iso,
    poll_seconds,
    services_of,
    teams_of,
    visible_incidents,
)
from incidents.views.paging import page, parse_cursor, query_string
from tenancy.access import org_member_required
from tenancy.models import Role

# Bounds the queue feed's answer: past this, "100+ changed" says enough.
CHANGES_CAP = 100


@org_member_required
@require_GET
def mine(request):
    incidents = visible_incidents(request).filter(reporter_id=request.user.pk)
    rows, older = page(incidents, request.GET.get("before", ""))
    return render(
        request,
        "incidents/mine.html",
        {
            "incidents": rows,
            "older_url": query_string([("before", older)]) if older else None,
            "paged": bool(parse_cursor(request.GET.get("before", ""))),
            "changes_url": reverse("incidents:changes", kwargs={"org": request.organization.slug})
            + "?mine=1",
            "since": iso(timezone.now()),
            "poll_seconds": poll_seconds(),
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
    filters = QueueFilter(
        request.GET,
        visible_incidents(request),
        user=request.user,
        services=services_of(organization),
        teams=teams_of(organization),
        members=member_users(organization=organization),
    )
    before = request.GET.get("before", "")
    rows, older = page(filters.qs, before)
    current = filters.query_items()
    own_views = saved_views_of(organization=organization, user=request.user)
    return render(
        request,
        "incidents/queue.html",
        {
            "form": filters.form,
            "incidents": rows,
            "older_url": query_string([*current, ("before", older)]) if older else None,
            "newest_url": query_string(current) if parse_cursor(before) else None,
            "saved_views": [
                {
                    "name": name,
                    "url": query_string(items),
                    "active": sorted(items) == sorted(current),
                }
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
            "ignored_filters": bool(filters.errors),
            "changes_url": reverse("incidents:changes", kwargs={"org": organization.slug})
            + query_string(current),
            "since": iso(timezone.now()),
            "poll_seconds": poll_seconds(),
        },
    )


@org_member_required
@require_GET
@never_cache
def queue_changes(request):
    """How many incidents matching the queue's filters were created or changed since
    ``since`` (an ISO time); at most CHANGES_CAP are counted."""
    moment = parse_iso(request.GET.get("since", ""))
    if moment is None:
        return JsonResponse({"since": ["Give an ISO 8601 time."]}, status=400)
    filters = QueueFilter(request.GET, visible_incidents(request), user=request.user)
    changed = filters.qs.filter(updated_at__gt=moment)
    count = len(changed.order_by().values_list("id", flat=True)[:CHANGES_CAP])
    return JsonResponse(
        {"changed": count, "capped": count >= CHANGES_CAP, "now": iso(timezone.now())}
    )
