from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TenancyConfig(AppConfig):
    default = True
    name = "tenancy"
    verbose_name = "Organizations and access"

    def ready(self):
        from django.db.models.signals import post_migrate

        from core import panels as home
        from tenancy import panels, rls, roles, signals  # noqa: F401 (signals: audit receivers)

        roles.grant_tenancy_defaults()
        post_migrate.connect(rls.protect_after_migrate, dispatch_uid="tenancy.rls")
        home.register(home.HOME, "tenancy/_home_teams.html", panels.teams_card, order=20)
        home.register(home.HOME, "tenancy/_home_members.html", panels.members_card, order=30)
        home.register(
            home.HOME, "tenancy/_home_administration.html", panels.administration_card, order=90
        )


class BeaconAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "tenancy.admin_site.BeaconAdminSite"
