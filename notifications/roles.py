from tenancy.roles import ADMIN_ROLES, MEMBER_READERS, grant, model_perms


def grant_notification_permissions() -> None:
    # Admins configure webhooks and retry deliveries; responders and up see what was
    # sent about an incident, and each attempt.
    grant(ADMIN_ROLES, model_perms("notifications", "webhook"))
    grant(ADMIN_ROLES, ["notifications.change_delivery"])
    grant(MEMBER_READERS, ["notifications.view_delivery", "notifications.view_attempt"])
