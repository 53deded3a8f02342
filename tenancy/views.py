"""Portal pages for the organization shell: home, teams and members."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login

from tenancy import audit, selectors, two_factor
from tenancy.access import org_member_required
from tenancy.forms import TokenForm
from tenancy.models import Role, Team


@login_required
def index(request):
    """Straight to the only organization, or a picker when there are several."""
    memberships = selectors.memberships_of(user=request.user)
    if len(memberships) == 1:
        return redirect("portal:home", org=memberships[0].organization.slug)
    return render(request, "portal/index.html", {"memberships": memberships})


@org_member_required
def org_home(request):
    organization = request.organization
    context = {
        "my_teams": selectors.user_teams(organization=organization, user=request.user),
        "team_count": selectors.team_list(organization=organization).count(),
        "member_count": selectors.member_list(organization=organization).count(),
        "can_administer": request.user.has_perm("tenancy.change_team", organization),
    }
    return render(request, "portal/home.html", context)


@org_member_required
def team_list(request):
    q = request.GET.get("q", "").strip()[:100]
    teams = selectors.team_list(organization=request.organization, q=q)
    return render(request, "portal/team_list.html", {"teams": teams, "q": q})


@org_member_required
def team_detail(request, team):
    team = get_object_or_404(Team.objects.for_org(request.organization), slug=team)
    members = selectors.team_members(organization=request.organization, team=team)
    return render(request, "portal/team_detail.html", {"team": team, "members": members})


@org_member_required
def member_list(request):
    q = request.GET.get("q", "").strip()[:100]
    role = request.GET.get("role", "")
    if role not in Role.values:
        role = ""
    members = selectors.member_list(organization=request.organization, q=q, role=role)
    return render(
        request,
        "portal/member_list.html",
        {"members": members, "q": q, "role": role, "roles": Role.choices},
    )


AUDIT_PAGE_SIZE = 50


@org_member_required
def audit_log(request):
    """Owners read their organization's audit log, newest first."""
    if not request.user.has_perm("tenancy.view_auditevent", request.organization):
        raise PermissionDenied
    action = request.GET.get("action", "")[:64]
    q = request.GET.get("q", "").strip()[:100]
    before = request.GET.get("before", "")
    before_id = int(before) if re.fullmatch(r"[0-9]{1,18}", before) else None
    events = list(
        selectors.audit_events(
            organization=request.organization, action=action, q=q, before_id=before_id
        )[: AUDIT_PAGE_SIZE + 1]
    )
    older = events[AUDIT_PAGE_SIZE - 1].id if len(events) > AUDIT_PAGE_SIZE else None
    return render(
        request,
        "portal/audit_log.html",
        {
            "events": events[:AUDIT_PAGE_SIZE],
            "older": older,
            "action": action,
            "q": q,
            "actions": selectors.audit_actions(organization=request.organization),
        },
    )


def _record_everywhere(user, action):
    for membership in selectors.memberships_of(user=user):
        audit.record(organization=membership.organization, actor=user, action=action, target=user)


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@login_required
def account_two_factor(request):
    """Enrol an authenticator app, confirm this login with it, or remove it."""
    user = request.user
    device = two_factor.confirmed_device(user)
    form = TokenForm(request.POST or None)
    action = request.POST.get("action")
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        with transaction.atomic():
            if device is None and action == "enrol":
                pending = two_factor.pending_device(user)
                if pending.verify_token(token):
                    pending.confirmed = True
                    pending.save(update_fields=["confirmed"])
                    otp_login(request, pending)
                    _record_everywhere(user, "auth.two_factor_enabled")
                    messages.success(request, "Two-factor authentication is on.")
                    return redirect(_safe_next(request) or "portal:two-factor")
                form.add_error("token", "That code is not valid; try the current one.")
            elif device is not None and action == "verify":
                if device.verify_token(token):
                    otp_login(request, device)
                    return redirect(_safe_next(request) or "portal:index")
                form.add_error("token", "That code is not valid; try the current one.")
            elif device is not None and action == "disable":
                if device.verify_token(token):
                    device.delete()
                    _record_everywhere(user, "auth.two_factor_disabled")
                    messages.success(request, "Two-factor authentication is off.")
                    return redirect("portal:two-factor")
                form.add_error("token", "That code is not valid; try the current one.")
    context = {
        "device": device,
        "verified": two_factor.is_satisfied(user),
        "form": form,
        "next": _safe_next(request) or "",
    }
    if device is None:
        pending = two_factor.pending_device(user)
        context["qr_svg"] = two_factor.qr_svg(pending)
        context["secret"] = two_factor.secret_for_manual_entry(pending)
    return render(request, "portal/two_factor.html", context)
