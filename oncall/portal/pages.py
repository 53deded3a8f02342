"""Pages in the portal: the viewer's pages ("my pages", acknowledged with one button), and
on the incident page, its escalation and pages with "escalate now" and "page someone" for
responders. Each POST goes through the same services as the API and the e-mailed link."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from incidents.states import Status
from incidents.views.common import incident_or_404
from oncall import rotations
from oncall.models import Escalation, Page, Schedule
from oncall.services import escalations as escalation_services
from oncall.services import pages as page_services
from oncall.targets import RESPONDS
from tenancy.access import org_member_required
from tenancy.models import Team
from tenancy.roles import roles_with_perm

PAGES_SHOWN = 50


def _back_to(request, incident):
    url = reverse("incidents:detail", args=[request.organization.slug, incident.number])
    return redirect(url + "#escalation")


class PageSomeoneForm(forms.Form):
    """Whom to page: one person, a team or a schedule of the organization."""

    target = forms.ChoiceField(label="Page")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        people = (
            get_user_model()
            .objects.filter(
                is_active=True,
                memberships__organization=organization,
                memberships__role__in=roles_with_perm(RESPONDS),
            )
            .order_by("username")
        )
        self.fields["target"].choices = [
            (
                "People",
                [(f"user:{u.pk}", u.get_full_name() or u.username) for u in people],
            ),
            (
                "Teams",
                [(f"team:{t.pk}", t.name) for t in Team.objects.for_org(organization)],
            ),
            (
                "Schedules",
                [(f"schedule:{s.pk}", s.name) for s in Schedule.objects.for_org(organization)],
            ),
        ]

    def target_kwargs(self, organization) -> dict:
        kind, _, pk = self.cleaned_data["target"].partition(":")
        models = {
            "user": get_user_model().objects.filter(memberships__organization=organization),
            "team": Team.objects.for_org(organization),
            "schedule": Schedule.objects.for_org(organization),
        }
        return {kind: models[kind].get(pk=pk)}


def home_card(request) -> dict | None:
    """The home page's on-call card: the viewer's open pages and the schedules they are on
    call in right now."""
    organization = request.organization
    if not request.user.has_perm("oncall.view_page", organization):
        return None
    open_pages = (
        Page.objects.for_org(organization)
        .filter(recipient=request.user, status=Page.Status.OPEN)
        .count()
    )
    now = timezone.now()
    schedules = rotations.with_rotations(
        Schedule.objects.for_org(organization), overrides_since=now
    )
    on_call = [
        schedule
        for schedule in schedules
        if any(user.pk == request.user.pk for user in rotations.oncall_at(schedule, now).users)
    ]
    return {"open_pages": open_pages, "on_call": on_call}


def incident_escalation(request, incident):
    """The incident page's escalation panel: the running (or last) escalation, the pages
    sent, and for responders the forms to escalate and to page someone; None for those
    who may not see pages."""
    organization = request.organization
    if not request.user.has_perm("oncall.view_page", organization):
        return None
    escalations = list(
        Escalation.objects.for_org(organization)
        .filter(incident=incident)
        .order_by("-started_at", "-id")[:1]
    )
    pages = list(
        Page.objects.for_org(organization)
        .filter(incident=incident)
        .select_related("recipient")
        .order_by("-created_at", "-id")[:PAGES_SHOWN]
    )
    can_page = incident.is_open and request.user.has_perm("oncall.add_page", organization)
    return {
        "escalation": escalations[0] if escalations else None,
        "pages": pages,
        "can_escalate": can_page and incident.status == Status.NEW,
        "page_form": PageSomeoneForm(organization=organization) if can_page else None,
    }


@org_member_required
@require_GET
def my_pages(request):
    """The viewer's pages, open ones first, with their incidents."""
    if not request.user.has_perm("oncall.view_page", request.organization):
        raise PermissionDenied
    pages = list(
        Page.objects.for_org(request.organization)
        .filter(recipient=request.user)
        .select_related("incident__service")
        .order_by("status", "-created_at", "-id")[:PAGES_SHOWN]
    )
    return render(
        request,
        "oncall/my_pages.html",
        {"open": [p for p in pages if p.status == Page.Status.OPEN], "pages": pages},
    )


@org_member_required
@require_POST
def page_acknowledge(request, page: int):
    page = get_object_or_404(
        Page.objects.for_org(request.organization)
        .filter(recipient=request.user)
        .select_related("incident"),
        pk=page,
    )
    try:
        page_services.page_acknowledge(
            organization=request.organization, actor=request.user, page=page
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Acknowledged {page.incident.reference}.")
    return redirect("oncall:pages", request.organization.slug)


@org_member_required
@require_POST
def incident_escalate(request, number: int):
    incident = incident_or_404(request, number)
    if not request.user.has_perm("oncall.add_page", request.organization):
        raise PermissionDenied
    try:
        escalation_services.escalation_escalate_now(
            organization=request.organization, actor=request.user, incident=incident
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Escalated: the next step pages now.")
    return _back_to(request, incident)


@org_member_required
@require_POST
def incident_page(request, number: int):
    incident = incident_or_404(request, number)
    organization = request.organization
    if not request.user.has_perm("oncall.add_page", organization):
        raise PermissionDenied
    form = PageSomeoneForm(request.POST, organization=organization)
    if not form.is_valid():
        messages.error(request, "Choose a person, a team or a schedule to page.")
        return _back_to(request, incident)
    try:
        sent = page_services.page_someone(
            organization=organization,
            actor=request.user,
            incident=incident,
            **form.target_kwargs(organization),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        names = ", ".join(p.recipient.get_username() for p in sent)
        messages.success(request, f"Paged {names}.")
    return _back_to(request, incident)
