"""Reads, each starting from the organization."""

import ipaddress

from django.db.models import Count, Prefetch, Q

from tenancy import rls, tokens
from tenancy.models import AuditEvent, Invitation, Membership, Organization, Team, TeamMembership


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


def invitation_list(*, organization, status: str = ""):
    """Newest first; ``status`` narrows to pending, expired, accepted or revoked ones."""
    invitations = Invitation.objects.for_org(organization).select_related(
        "invited_by", "accepted_by"
    )
    return invitations.with_status(status).order_by("-created_at", "-id")


def invitation_by_token(token: str) -> Invitation | None:
    """The pending invitation a link names, with its (active) organization, or None.

    Runs before anyone knows the organization: row-level security lets the query see the
    one invitation whose digest it names, so it reads that table alone.
    """
    digest = tokens.digest_of(token)
    if digest is None:
        return None
    with rls.ensure_transaction():
        rls.set_invitation_token_hash(digest)
        invitation = (
            Invitation.objects.unscoped()  # the link names its organization; nothing else can
            .filter(token_hash=digest)
            .order_by()
            .first()
        )
        rls.set_invitation_token_hash("")
    if invitation is None or invitation.status != Invitation.Status.PENDING:
        return None
    organization = Organization.objects.active().filter(pk=invitation.organization_id).first()
    if organization is None:
        return None
    invitation.organization = organization
    return invitation


def user_teams(*, organization, user):
    return Team.objects.for_org(organization).filter(memberships__user=user).order_by("name")


def audit_events(*, organization, action: str = "", q: str = "", before_id: int | None = None):
    """Newest first, keyset-paginated by id (``before_id``): no COUNT(*), no OFFSET."""
    events = AuditEvent.objects.for_org(organization).select_related("actor")
    if action:
        events = events.filter(action=action)
    if q:
        match = Q(actor_label__icontains=q) | Q(target_label__icontains=q)
        if _looks_like_ip(q):
            match |= Q(ip_address=q)
        events = events.filter(match)
    if before_id is not None:
        events = events.filter(id__lt=before_id)
    return events.order_by("-id")


def audit_actions(*, organization) -> list[str]:
    return list(
        AuditEvent.objects.for_org(organization)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def _looks_like_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
