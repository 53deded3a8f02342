from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from alerts import admin, api, groups, panels, roles, services, severities
        from alerts.models import Integration
        from core import extensions
        from incidents import signals
        from incidents.models import Service
        from incidents.panels import register_incident_panel
        from tenancy import rls

        roles.grant_alert_permissions()
        # Alert ingestion finds the integration by the key the event was sent with.
        rls.add_select_policy(
            Integration._meta.db_table,
            "receiving_integration",
            f"key = NULLIF(current_setting('{rls.INTEGRATION_KEY_SETTING}', true), '')",
        )
        signals.status_changed.connect(
            groups.follow_incident, dispatch_uid="alerts.groups.follow_incident"
        )
        register_incident_panel("alerts/_incident_alerts.html", panels.incident_alerts, order=60)
        extensions.register(
            Service,
            extensions.Setting(
                name="alert_severity_map",
                related="severity_map",
                read=severities.overrides_of,
                write=lambda *, target, **kwargs: services.severity_map_set(
                    service=target, **kwargs
                ),
                api_field=api.SeverityMapField,
                form_field=admin.severity_map_form_field,
            ),
        )

    def seed_demo(self, *, organization, users, stdout):
        from alerts.demo import seed

        seed(organization=organization, users=users, stdout=stdout)
