"""Writes to organizations, members, invitations, teams and API keys.

Each function is keyword-only, names the organization and the actor, and runs in one
transaction. ``actor=None`` means the system (a management command).
"""

from tenancy.services.accounts import (
    organization_create,
    user_create,
    username_validate,
)
from tenancy.services.api_keys import (
    api_key_authenticate,
    api_key_create,
    api_key_issue,
    api_key_revoke,
)
from tenancy.services.invitations import (
    invitation_accept,
    invitation_accept_new,
    invitation_address_has_account,
    invitation_create,
    invitation_resend,
    invitation_revoke,
    invitation_valid_days,
    invitation_validate,
)
from tenancy.services.members import (
    membership_change_role,
    membership_create,
    membership_remove,
    membership_validate,
)
from tenancy.services.teams import (
    team_create,
    team_delete,
    team_member_add,
    team_member_remove,
    team_update,
)

__all__ = [
    "api_key_authenticate",
    "api_key_create",
    "api_key_issue",
    "api_key_revoke",
    "invitation_accept",
    "invitation_accept_new",
    "invitation_address_has_account",
    "invitation_create",
    "invitation_resend",
    "invitation_revoke",
    "invitation_valid_days",
    "invitation_validate",
    "membership_change_role",
    "membership_create",
    "membership_remove",
    "membership_validate",
    "organization_create",
    "team_create",
    "team_delete",
    "team_member_add",
    "team_member_remove",
    "team_update",
    "user_create",
    "username_validate",
]
