from tenancy.models import Role
from tenancy.roles import ADMIN_ROLES, ALL_ROLES, grant, model_perms


def grant_alert_permissions() -> None:
    # Everyone who sees an incident sees the alerts behind it (selectors narrow reporters to
    # their own incidents, which alerts never open); admins configure integrations.
    grant([role for role in ALL_ROLES if role != Role.REPORTER], ["alerts.view_alert"])
    grant([role for role in ALL_ROLES if role != Role.REPORTER], ["alerts.view_changeevent"])
    grant(ADMIN_ROLES, model_perms("alerts", "integration"))
