from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self):
        from django.db.models.signals import post_save

        from core import panels as slots
        from incidents import panels, roles
        from tenancy.models import Organization

        roles.grant_incident_permissions()
        slots.register(slots.HOME, "incidents/_home_card.html", panels.home_card, order=10)
        post_save.connect(
            _organization_defaults, sender=Organization, dispatch_uid="incidents.defaults"
        )

    def seed_demo(self, *, organization, users, stdout):
        from incidents.demo import seed

        seed(organization=organization, users=users, stdout=stdout)


def _organization_defaults(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from incidents.services import organization_defaults_create

        organization_defaults_create(organization=instance)
