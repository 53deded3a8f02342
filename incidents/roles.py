from tenancy.models import Role
from tenancy.roles import ADMIN_ROLES, ALL_ROLES, grant, model_perms

RESPONDERS = (*ADMIN_ROLES, Role.RESPONDER)


def grant_incident_permissions() -> None:
    # Reporters see only the incidents they reported: selectors narrow the queryset.
    grant(ALL_ROLES, ["incidents.view_incident", "incidents.view_timelineentry"])
    grant(ALL_ROLES, ["incidents.view_service", "incidents.view_category"])
    grant([*RESPONDERS, Role.REPORTER], ["incidents.add_incident", "incidents.comment_incident"])
    grant(RESPONDERS, ["incidents.change_incident", "incidents.post_update_incident"])
    # Closure: the reporter confirms or reopens a resolved incident (services check that the
    # actor is the incident's own reporter).
    grant([Role.REPORTER], ["incidents.confirm_incident"])
    grant(ADMIN_ROLES, model_perms("incidents", "service", ("add", "change", "delete")))
    grant(ADMIN_ROLES, model_perms("incidents", "category", ("add", "change", "delete")))
    grant(ADMIN_ROLES, model_perms("incidents", "priorityrule"))
    grant(ADMIN_ROLES, model_perms("incidents", "incidentsettings", ("view", "change")))
    # SLA: targets and business hours are configured by the organization's admins.
    grant(ADMIN_ROLES, model_perms("incidents", "slatarget"))
    grant(ADMIN_ROLES, model_perms("incidents", "businesshours"))
