"""Portal pages for the organization shell: home, teams and members."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render

from tenancy import selectors
from tenancy.access import org_member_required
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
    before_id = int(before) if before.isdigit() else None
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
