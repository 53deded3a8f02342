from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TenancyConfig(AppConfig):
    default = True
    name = "tenancy"
    verbose_name = "Organizations and access"

    def ready(self):
        from tenancy import roles

        roles.grant_tenancy_defaults()


class BeaconAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "tenancy.admin_site.BeaconAdminSite"
