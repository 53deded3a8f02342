from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TenancyConfig(AppConfig):
    default = True
    name = "tenancy"
    verbose_name = "Organizations and access"

    def ready(self):
        from django.db.models.signals import post_migrate

        from tenancy import rls, roles, signals  # noqa: F401 (connects the audit receivers)

        roles.grant_tenancy_defaults()
        post_migrate.connect(rls.protect_after_migrate, dispatch_uid="tenancy.rls")


class BeaconAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "tenancy.admin_site.BeaconAdminSite"
