from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from alerts import roles

        roles.grant_alert_permissions()

    def seed_demo(self, *, organization, users, stdout):
        from alerts.demo import seed

        seed(organization=organization, users=users, stdout=stdout)
