from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call and escalation"

    def ready(self):
        from core import extensions
        from incidents.models import Service
        from oncall import roles
        from oncall.admin import policies as policy_admin
        from oncall.api import policies as policy_api
        from oncall.services import policies
        from tenancy.models import Team

        roles.grant_oncall_permissions()
        # Services and teams name the policy that pages for them on their own pages.
        writers = {
            Service: lambda *, target, **kwargs: policies.service_policy_set(
                service=target, **kwargs
            ),
            Team: lambda *, target, **kwargs: policies.team_policy_set(team=target, **kwargs),
        }
        for model, write in writers.items():
            extensions.register(
                model,
                extensions.Setting(
                    name="escalation_policy",
                    related="escalation",
                    read=policies.policy_of,
                    write=write,
                    api_field=policy_api.EscalationPolicyField,
                    form_field=policy_admin.policy_form_field,
                ),
            )
