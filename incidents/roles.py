from tenancy.models import Role
from tenancy.roles import ADMIN_ROLES, ALL_ROLES, grant, model_perms

RESPONDERS = (*ADMIN_ROLES, Role.RESPONDER)
# Who may hold an incident's working roles (assignee, commander, comms lead): the members
# whose role lets them work incidents, asked through the permission, never a role list.
WORK_INCIDENTS = "incidents.change_incident"


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
    # Attachments: everyone who sees the incident sees its files; reporters attach to the
    # incidents they reported (services check it), responders to any.
    grant(ALL_ROLES, ["incidents.view_attachment"])
    grant([*RESPONDERS, Role.REPORTER], ["incidents.add_attachment"])
    grant(RESPONDERS, ["incidents.delete_attachment"])
    # Saved queue views belong to their owner (the portal checks it); admins may read and
    # clean them up in the admin.
    grant(ADMIN_ROLES, model_perms("incidents", "savedview", ("view", "delete")))
