"""Reads, each starting from the organization."""

from django.db.models import Count, Prefetch, Q

from tenancy import rls
from tenancy.models import Membership, Team, TeamMembership


def team_list(*, organization, q: str = ""):
    teams = Team.objects.for_org(organization).annotate(member_count=Count("memberships"))
    if q:
        teams = teams.filter(Q(name__icontains=q) | Q(slug__icontains=q))
    return teams.order_by("name")


def team_members(*, organization, team):
    return (
        TeamMembership.objects.for_org(organization)
        .filter(team=team)
        .select_related("user")
        .order_by("-role", "user__username")
    )


def member_list(*, organization, q: str = "", role: str = ""):
    teams = TeamMembership.objects.for_org(organization).select_related("team")
    members = (
        Membership.objects.for_org(organization)
        .select_related("user")
        .prefetch_related(Prefetch("user__team_memberships", queryset=teams))
    )
    if q:
        members = members.filter(
            Q(user__username__icontains=q)
            | Q(user__first_name__icontains=q)
            | Q(user__last_name__icontains=q)
            | Q(user__email__icontains=q)
        )
    if role:
        members = members.filter(role=role)
    return members.order_by("user__username")


def memberships_of(*, user) -> list[Membership]:
    """The user's own memberships in active organizations, across organizations."""
    with rls.ensure_transaction():
        rls.set_user(user.pk)
        return list(
            Membership.objects.unscoped()
            .filter(user=user, organization__is_active=True)
            .select_related("organization")
            .order_by("organization__name")
        )


def user_teams(*, organization, user):
    return Team.objects.for_org(organization).filter(memberships__user=user).order_by("name")
