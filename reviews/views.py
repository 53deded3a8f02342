"""Portal pages for post-incident reviews: /o/<org>/reviews/ and the review page.

Reporters cannot see reviews (404, like a review that does not exist); stakeholders read
published ones (a draft is 404 to them); responders and up start, edit and publish them
and manage their action items.
Every write goes through ``reviews.services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from incidents.selectors import member_users
from incidents.views.common import incident_or_404
from incidents.views.paging import page, parse_cursor, query_string
from reviews import services
from reviews.forms import ActionItemForm, ReviewForm
from reviews.models import ActionItem, PostIncidentReview
from reviews.selectors import reviews_visible
from tenancy.access import org_member_required

app_name = "reviews"

VIEW = "reviews.view_postincidentreview"
CHANGE = "reviews.change_postincidentreview"


# Reads -------------------------------------------------------------------------------


def _require_view(request) -> None:
    if not request.user.has_perm(VIEW, request.organization):
        raise Http404("No such review.")


def _reviews(request):
    return reviews_visible(organization=request.organization, role=request.role).select_related(
        "incident", "owner"
    )


def _review_or_404(request, review_id: int) -> PostIncidentReview:
    _require_view(request)
    return get_object_or_404(_reviews(request), pk=review_id)


def _review_url(review) -> str:
    return reverse("reviews:detail", kwargs={"org": review.organization.slug, "review": review.pk})


def incident_panel(request, incident) -> dict | None:
    """On a resolved or closed incident's page, responders and up start its review (or
    open it, when it is started already)."""
    if incident.status not in services.REVIEWABLE:
        return None
    if not request.user.has_perm("reviews.add_postincidentreview", incident):
        return None
    return {
        "start_url": reverse(
            "reviews:start", kwargs={"org": request.organization.slug, "number": incident.number}
        )
    }


# Pages -------------------------------------------------------------------------------


@org_member_required
@require_GET
def review_list(request):
    _require_view(request)
    reviews = _reviews(request)
    status = request.GET.get("status", "")
    if status in PostIncidentReview.State.values:
        reviews = reviews.filter(status=status)
    else:
        status = ""
    before = request.GET.get("before", "")
    rows, older = page(reviews, before)
    current = [("status", status)] if status else []
    return render(
        request,
        "reviews/review_list.html",
        {
            "reviews": rows,
            "status": status,
            "statuses": PostIncidentReview.State.choices,
            "older_url": query_string([*current, ("before", older)]) if older else None,
            "newest_url": query_string(current) if parse_cursor(before) else None,
        },
    )


@org_member_required
@require_POST
def review_start(request, number: int):
    """From a resolved or closed incident's page; opens the review if it exists already."""
    _require_view(request)
    incident = incident_or_404(request, number)
    if not request.user.has_perm("reviews.add_postincidentreview", incident):
        raise PermissionDenied
    existing = _reviews(request).filter(incident=incident).first()
    if existing is not None:
        return redirect(_review_url(existing))
    try:
        review = services.review_create(
            organization=request.organization, actor=request.user, incident=incident
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("incidents:detail", org=request.organization.slug, number=incident.number)
    messages.success(request, f"The review of {incident.reference} is started, pre-filled.")
    return redirect(_review_url(review))


@org_member_required
@require_http_methods(["GET", "POST"])
def review_detail(request, review: int):
    review = _review_or_404(request, review)
    if request.method == "POST":
        return _act(request, review)
    return _render(request, review)


def _items(review) -> list[ActionItem]:
    return list(
        ActionItem.objects.for_org(review.organization_id)
        .filter(review=review)
        .select_related("owner")
    )


def _published(review) -> bool:
    return review.status == PostIncidentReview.State.PUBLISHED


def _render(request, review, *, bound=None, error: str = "", status: int = 200):
    """A published review reads as published; responders still track its action items."""
    bound = bound or {}
    members = member_users(organization=request.organization)
    can_change = request.user.has_perm(CHANGE, review)
    published = _published(review)
    items = _items(review)
    context = {
        "review": review,
        "incident": review.incident,
        "items": items,
        "can_change": can_change,
        "can_edit_review": can_change and not published,
        "error": error,
    }
    if can_change:
        if not published:
            context["review_form"] = bound.get("review") or ReviewForm(
                review=review, members=members
            )
            context["item_form"] = bound.get("add_item") or ActionItemForm(members=members)
        context["item_forms"] = [
            (
                item,
                bound.get(f"item-{item.pk}")
                or ActionItemForm(members=members, item=item, tracking_only=published),
            )
            for item in items
        ]
    return render(request, "reviews/review_detail.html", context, status=status)


def _done(review, message: str, request, anchor: str = ""):
    messages.success(request, message)
    return redirect(_review_url(review) + anchor)


def _save(request, review):
    form = ReviewForm(
        request.POST, review=review, members=member_users(organization=request.organization)
    )
    if not form.is_valid():
        return _render(
            request, review, bound={"review": form}, error="Please check the form.", status=400
        )
    try:
        services.review_update(
            organization=request.organization,
            actor=request.user,
            review=review,
            **form.changes(),
        )
    except DomainError as exc:
        return _render(
            request, review, bound={"review": form}, error=exc.message, status=exc.status_code
        )
    return _done(review, "The review is saved.", request)


def _publish(request, review):
    try:
        services.review_publish(
            organization=request.organization, actor=request.user, review=review
        )
    except DomainError as exc:
        return _render(request, review, error=exc.message, status=exc.status_code)
    return _done(review, "The review is published.", request)


def _item_or_404(request, review) -> ActionItem:
    value = request.POST.get("item", "")
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise Http404("No such action item.")
    return get_object_or_404(
        ActionItem.objects.for_org(request.organization).filter(review=review), pk=int(value)
    )


def _add_item(request, review):
    form = ActionItemForm(request.POST, members=member_users(organization=request.organization))
    if not form.is_valid():
        return _render(
            request,
            review,
            bound={"add_item": form},
            error="Please check the action item.",
            status=400,
        )
    try:
        services.action_item_create(
            organization=request.organization, actor=request.user, review=review, **form.values()
        )
    except DomainError as exc:
        return _render(
            request, review, bound={"add_item": form}, error=exc.message, status=exc.status_code
        )
    return _done(review, "The action item is added.", request, "#action-items")


def _update_item(request, review):
    item = _item_or_404(request, review)
    form = ActionItemForm(
        request.POST,
        members=member_users(organization=request.organization),
        item=item,
        tracking_only=_published(review),
    )
    if not form.is_valid():
        return _render(
            request,
            review,
            bound={f"item-{item.pk}": form},
            error="Please check the action item.",
            status=400,
        )
    try:
        services.action_item_update(
            organization=request.organization, actor=request.user, item=item, **form.values()
        )
    except DomainError as exc:
        return _render(
            request,
            review,
            bound={f"item-{item.pk}": form},
            error=exc.message,
            status=exc.status_code,
        )
    return _done(review, "The action item is saved.", request, "#action-items")


def _delete_item(request, review):
    item = _item_or_404(request, review)
    try:
        services.action_item_delete(
            organization=request.organization, actor=request.user, item=item
        )
    except DomainError as exc:
        return _render(request, review, error=exc.message, status=exc.status_code)
    return _done(review, "The action item is deleted.", request, "#action-items")


ACTIONS = {
    "save": (CHANGE, _save),
    "publish": (CHANGE, _publish),
    "add_item": ("reviews.add_actionitem", _add_item),
    "update_item": ("reviews.change_actionitem", _update_item),
    "delete_item": ("reviews.delete_actionitem", _delete_item),
}


def _act(request, review):
    try:
        permission, handler = ACTIONS[request.POST.get("action", "")]
    except KeyError:
        return _render(request, review, error="Unknown action.", status=400)
    if not request.user.has_perm(permission, review):
        raise PermissionDenied
    return handler(request, review)


urlpatterns = [
    path("o/<slug:org>/reviews/", review_list, name="list"),
    path("o/<slug:org>/reviews/<int:review>/", review_detail, name="detail"),
    path("o/<slug:org>/incidents/<int:number>/review/", review_start, name="start"),
]
