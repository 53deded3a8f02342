"""Tenancy's cards on the organization's home page (registered in ``TenancyConfig.ready``)."""

from __future__ import annotations

from tenancy import selectors


def teams_card(request) -> dict:
    organization = request.organization
    return {
        "my_teams": selectors.user_teams(organization=organization, user=request.user),
        "team_count": selectors.team_list(organization=organization).count(),
    }


def members_card(request) -> dict | None:
    organization = request.organization
    if not request.user.has_perm("tenancy.view_membership", organization):
        return None
    return {"member_count": selectors.member_list(organization=organization).count()}


def administration_card(request) -> dict | None:
    if not request.user.has_perm("tenancy.change_team", request.organization):
        return None
    return {}
