from tenancy.models import Role
from tenancy.roles import ADMIN_ROLES, ALL_ROLES, grant, model_perms

RESPONDING_ROLES = [role for role in ALL_ROLES if role not in (Role.REPORTER, Role.STAKEHOLDER)]
SEEING_ROLES = [role for role in ALL_ROLES if role != Role.REPORTER]


def grant_oncall_permissions() -> None:
    # Everyone but reporters sees who is on call and how incidents escalate; responders
    # cover shifts (overrides, swaps) and page people; admins configure the rest.
    for model in ("schedule", "escalationpolicy", "escalation", "page"):
        grant(SEEING_ROLES, [f"oncall.view_{model}"])
    for model in ("override", "swap"):
        grant(SEEING_ROLES, [f"oncall.view_{model}"])
        grant(RESPONDING_ROLES, model_perms("oncall", model))
    grant(RESPONDING_ROLES, ["oncall.add_page", "oncall.change_escalation"])
    for model in ("schedule", "layer", "participant", "escalationpolicy", "step", "steptarget"):
        grant(ADMIN_ROLES, model_perms("oncall", model))
    grant(
        ADMIN_ROLES, ["oncall.change_page", "oncall.view_servicepolicy", "oncall.view_teampolicy"]
    )
