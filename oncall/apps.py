from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call and escalation"

    def ready(self):
        from django.db.models import Prefetch

        from core import extensions
        from core import metrics as core_metrics
        from core import panels as home
        from events import bus
        from incidents import events as incident_events
        from incidents import signals
        from incidents.models import Incident, Service
        from incidents.panels import register_incident_panel
        from oncall import events, mail, metrics, roles
        from oncall.admin import policies as policy_admin
        from oncall.api import escalations as escalation_api
        from oncall.api import policies as policy_api
        from oncall.models import Escalation
        from oncall.portal import pages as page_portal
        from oncall.services import escalations, pages, policies
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
        # An incident shows its escalation (read-only) in the API.
        extensions.register(
            Incident,
            extensions.Setting(
                name="escalation",
                read=escalation_api.current_escalation,
                api_field=escalation_api.IncidentEscalationField,
                prefetch=Prefetch(
                    "escalations", queryset=Escalation.objects.order_by("-started_at", "-id")
                ),
            ),
        )
        # The engine follows the incident: opened -> its policy starts; moved to another
        # team -> that team's policy replaces it; acknowledged, resolved or cancelled ->
        # it stops, inside the transaction of that change.
        bus.subscribe(
            "oncall.escalation_start",
            escalations.escalation_start_for_new,
            types=[incident_events.CREATED],
        )
        bus.subscribe(
            "oncall.escalation_follow_team",
            escalations.escalation_follow_team,
            types=[incident_events.ASSIGNED],
        )
        bus.subscribe(
            "oncall.pages_follow_acknowledgement",
            pages.pages_follow_acknowledgement,
            types=[incident_events.STATUS_CHANGED],
        )
        bus.subscribe("oncall.page_mail", mail.page_mail, types=[events.PAGE_CREATED])
        signals.status_changed.connect(
            escalations.escalation_stop, dispatch_uid="oncall.escalations.escalation_stop"
        )
        core_metrics.register_collector(metrics.EscalationLagCollector())
        register_incident_panel(
            "oncall/_incident_escalation.html", page_portal.incident_escalation, order=30
        )
        home.register(home.HOME, "oncall/_home_card.html", page_portal.home_card, order=15)

    def seed_demo(self, *, organization, users, stdout):
        from oncall.demo import seed

        seed(organization=organization, users=users, stdout=stdout)
