from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        from alerts import events as alert_events
        from events import bus
        from incidents import events as incident_events
        from incidents.panels import register_incident_panel

        # The tasks registered wherever the app runs: services send them by name.
        from notifications import panels, roles, tasks  # noqa: F401
        from notifications.services import deliveries, reporters

        roles.grant_notification_permissions()
        # Every event a webhook may ask for (incident.resolved is a status change).
        bus.subscribe(
            "notifications.webhooks",
            deliveries.webhook_deliveries,
            types=[
                incident_events.CREATED,
                incident_events.UPDATED,
                incident_events.STATUS_CHANGED,
                incident_events.ASSIGNED,
                incident_events.PRIORITY_CHANGED,
                incident_events.UPDATE_POSTED,
                alert_events.RECEIVED,
            ],
        )
        # The reporter hears that someone is on it, each public update, and the resolution.
        bus.subscribe(
            "notifications.reporter_mail",
            reporters.reporter_mail,
            types=[incident_events.STATUS_CHANGED, incident_events.UPDATE_POSTED],
        )
        register_incident_panel(
            "notifications/_incident_deliveries.html", panels.incident_deliveries, order=60
        )

    def seed_demo(self, *, organization, users, stdout):
        from notifications.demo import seed

        seed(organization=organization, users=users, stdout=stdout)
