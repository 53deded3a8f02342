"""Teams and their members.

Each function is keyword-only, names the organization and the actor, and runs in one
transaction. ``actor=None`` means the system (a management command).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from core import extensions
from core.errors import Conflict, DomainError
from tenancy import audit, rls
from tenancy.models import (
    Membership,
    Team,
    TeamMembership,
)

User = get_user_model()


TEAM_FIELDS = ["slug", "name", "description"]


@rls.in_tenant
def team_create(
    *, organization, actor, slug: str, name: str, description: str = "", **settings
) -> Team:
    """``settings`` are those other apps keep with a team (:mod:`core.extensions`)."""
    settings = extensions.split(Team, settings)
    try:
        with transaction.atomic():
            team = Team.objects.create(
                organization=organization, slug=slug, name=name, description=description
            )
    except IntegrityError as exc:
        raise Conflict(f"A team with slug {slug!r} exists already.", field="slug") from exc
    audit.record(
        organization=organization,
        actor=actor,
        action="team.created",
        target=team,
        after=audit.snapshot(team, TEAM_FIELDS),
    )
    extensions.write(Team, settings, organization=organization, actor=actor, target=team)
    return team


@rls.in_tenant
def team_update(*, organization, actor, team: Team, **changes) -> Team:
    """``changes`` may hold the settings other apps keep (:mod:`core.extensions`)."""
    settings = extensions.split(Team, changes)
    if changes:
        conflict = Conflict("A team with that slug exists already.", field="slug")
        audit.save_changes(team, changes, organization=organization, actor=actor, conflict=conflict)
    extensions.write(Team, settings, organization=organization, actor=actor, target=team)
    return team


@rls.in_tenant
def team_delete(*, organization, actor, team: Team) -> None:
    audit.record(
        organization=organization,
        actor=actor,
        action="team.deleted",
        target=team,
        before=audit.snapshot(team, TEAM_FIELDS),
    )
    team.delete()


@rls.in_tenant
def team_member_add(*, organization, actor, team: Team, user, role=TeamMembership.TeamRole.MEMBER):
    if not Membership.objects.for_org(organization).filter(user=user).exists():
        raise DomainError("Only members of the organization can join its teams.", field="username")
    membership, created = TeamMembership.objects.get_or_create(
        organization=organization, team=team, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    elif not created:
        return membership
    audit.record(
        organization=organization,
        actor=actor,
        action="team.member_added",
        target=team,
        after={"username": user.username, "role": role},
    )
    return membership


@rls.in_tenant
def team_member_remove(*, organization, actor, team_membership: TeamMembership) -> None:
    audit.record(
        organization=organization,
        actor=actor,
        action="team.member_removed",
        target=team_membership.team,
        before={"username": team_membership.user.username, "role": team_membership.role},
    )
    team_membership.delete()
