from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self):
        from tenancy.roles import ADMIN_ROLES, grant

        # Admins see what happened and which subscribers have acted on it.
        grant(ADMIN_ROLES, ["events.view_event"])
