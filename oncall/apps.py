from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call and escalation"

    def ready(self):
        from oncall import roles

        roles.grant_oncall_permissions()
