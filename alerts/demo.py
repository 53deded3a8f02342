"""Demo data: integrations on the demo services and the alerts real traffic would leave.

Every alert goes through the same parsers and :func:`alerts.services.ingest` as a request
to the ingestion endpoints, so incidents open, group, acknowledge and resolve exactly as
they would in production. Runs once per organization: an organization that has
integrations already is left as it is.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from alerts import kinds, services
from alerts.models import Alert, ChangeEvent, Integration
from incidents.models import Service
from tenancy import rls

Kind = Integration.Kind

# organization -> (service slug, integration name, kind)
INTEGRATIONS = {
    "acme": [
        ("checkout-api", "Prometheus Alertmanager", Kind.ALERTMANAGER),
        ("checkout-api", "CI/CD deploys", Kind.PAGERDUTY),
        ("payments", "Datadog", Kind.PAGERDUTY),
        ("corporate-vpn", "Opsgenie (network monitoring)", Kind.OPSGENIE),
        ("website", "Uptime checks", Kind.GENERIC),
    ],
    "globex": [
        ("fleet-tracking", "Prometheus Alertmanager", Kind.ALERTMANAGER),
        ("fleet-tracking", "Datadog", Kind.PAGERDUTY),
    ],
}
# Payments' warnings cost money by the minute: they page as SEV2 with high urgency.
SEVERITY_MAPS = {"acme": {"payments": {"warning": {"urgency": 1, "severity": "sev2"}}}}


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _alertmanager_group(*, status, alertname, service, severity, summary, alerts, started):
    """A version-4 Alertmanager notification for one group (receiver + alertname)."""
    receiver = "beacon"
    return {
        "version": "4",
        "groupKey": f'{{}}/{{severity=~"critical|warning"}}:{{alertname="{alertname}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname, "service": service, "severity": severity},
        "commonAnnotations": {"summary": summary},
        "externalURL": "https://alertmanager.example.com",
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": alertname,
                    "service": service,
                    "severity": severity,
                    "instance": instance,
                    "job": service,
                },
                "annotations": {
                    "summary": summary,
                    "description": description,
                    "runbook_url": f"https://runbooks.example.com/{alertname}",
                },
                "startsAt": _iso(started),
                "endsAt": _iso(started + timedelta(minutes=25))
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "generatorURL": f"https://prometheus.example.com/graph?g0.expr={alertname}",
                "fingerprint": fingerprint,
            }
            for instance, description, fingerprint in alerts
        ],
    }


def _pagerduty(key, action, dedup_key, summary="", *, source="", severity="error", **details):
    event = {"routing_key": key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        event["payload"] = {
            "summary": summary,
            "source": source,
            "severity": severity,
            "component": details.pop("component", ""),
            "custom_details": details,
        }
        event["client"] = "Datadog Monitor"
        event["client_url"] = "https://app.datadoghq.com/monitors/4711"
    return event


def _ingest_pagerduty(integration, data):
    _, event = kinds.pagerduty.parse_event(data)
    return services.ingest(integration, [event])


def _change(integration, summary, *, at, version, who):
    _, fields = kinds.pagerduty.parse_change(
        {
            "routing_key": integration.key,
            "payload": {
                "summary": summary,
                "source": "github-actions",
                "timestamp": _iso(at),
                "custom_details": {"version": version, "deployed_by": who},
            },
            "links": [
                {
                    "href": f"https://github.com/example/{integration.service.slug}/releases/{version}",
                    "text": f"Release {version}",
                }
            ],
        }
    )
    services.record_change(integration, **fields)


def _traffic_acme(integrations, now) -> None:
    prometheus = integrations[("checkout-api", "Prometheus Alertmanager")]
    deploys = integrations[("checkout-api", "CI/CD deploys")]
    datadog = integrations[("payments", "Datadog")]
    opsgenie = integrations[("corporate-vpn", "Opsgenie (network monitoring)")]
    uptime = integrations[("website", "Uptime checks")]

    # Deploys reported as change events: the second one is followed by the errors below.
    _change(
        deploys,
        "Deploy checkout-api 2026.11.2",
        at=now - timedelta(days=1),
        version="2026.11.2",
        who="carol",
    )
    _change(
        deploys,
        "Deploy checkout-api 2026.11.3",
        at=now - timedelta(minutes=50),
        version="2026.11.3",
        who="dave",
    )

    # A firing Alertmanager group (two pods): opens an incident. Alertmanager re-sends the
    # same notification every group_interval; the copy stores nothing twice.
    firing = _alertmanager_group(
        status="firing",
        alertname="CheckoutHighErrorRate",
        service="checkout-api",
        severity="critical",
        summary="Checkout API 5xx rate above 5% for 10 minutes",
        alerts=[
            ("checkout-api-7d9f-abcde:8080", "5xx ratio is 12.4% on this pod.", "3f1c2a9b0d1e"),
            ("checkout-api-7d9f-fghij:8080", "5xx ratio is 9.8% on this pod.", "8a7b6c5d4e3f"),
        ],
        started=now - timedelta(minutes=40),
    )
    services.ingest(prometheus, kinds.alertmanager.parse_events(firing))
    services.ingest(prometheus, kinds.alertmanager.parse_events(firing))

    # A group that fired and has resolved since: its incident is resolved by the alerts.
    disk = {
        "alertname": "CheckoutDiskPressure",
        "service": "checkout-api",
        "severity": "warning",
        "summary": "Checkout API node disk above 85%",
        "alerts": [("node-eu-3:9100", "Disk /var is 88% full.", "c0ffee123456")],
        "started": now - timedelta(hours=3),
    }
    services.ingest(
        prometheus, kinds.alertmanager.parse_events(_alertmanager_group(status="firing", **disk))
    )
    services.ingest(
        prometheus, kinds.alertmanager.parse_events(_alertmanager_group(status="resolved", **disk))
    )

    # PagerDuty-format triggers repeated by the monitor: one incident, the repeats grouped.
    for value in ("2.1 s", "2.6 s", "3.4 s"):
        _ingest_pagerduty(
            datadog,
            _pagerduty(
                datadog.key,
                "trigger",
                "payments-latency-p99",
                "Payments API p99 latency above 2 s",
                source="payments-api.prod",
                severity="error",
                component="payments-api",
                p99=value,
                monitor="payments p99 latency",
            ),
        )
    # Another one, acknowledged from Datadog's side.
    _ingest_pagerduty(
        datadog,
        _pagerduty(
            datadog.key,
            "trigger",
            "payments-webhook-queue",
            "Payment webhooks queue backlog above 10,000",
            source="rabbitmq-payments.prod",
            severity="warning",
            component="webhooks",
            backlog=12873,
        ),
    )
    _ingest_pagerduty(datadog, _pagerduty(datadog.key, "acknowledge", "payments-webhook-queue"))
    # A resolve for an alert that never opened an incident here: recorded, then dropped.
    _ingest_pagerduty(datadog, _pagerduty(datadog.key, "resolve", "payments-refunds-lag"))

    # Opsgenie: the network monitor opens an alert by alias, then closes it.
    services.ingest(
        opsgenie,
        [
            kinds.opsgenie.parse_create(
                {
                    "message": "VPN gateway vpn-ber-01 tunnel flapping",
                    "alias": "vpn-ber-01-tunnel",
                    "description": "IPsec tunnel to Berlin went down 6 times in 15 minutes.",
                    "priority": "P2",
                    "tags": ["network", "berlin"],
                    "source": "LibreNMS",
                    "entity": "vpn-ber-01",
                }
            )
        ],
    )
    services.ingest(
        opsgenie,
        [
            kinds.opsgenie.parse_action(
                "resolve", "vpn-ber-01-tunnel", {"note": "Tunnel stable for 30 minutes."}
            )
        ],
    )

    # The uptime checker: the homepage was down and is back.
    for action in ("trigger", "resolve"):
        services.ingest(
            uptime,
            [
                kinds.generic.parse_event(
                    {
                        "action": action,
                        "dedup_key": "website-homepage",
                        "summary": "www.example.com returns HTTP 503",
                        "severity": "critical",
                        "source": "uptime-checker eu-central",
                        "details": {"url": "https://www.example.com/", "status": 503},
                    }
                )
            ],
        )


def _traffic_globex(integrations, now) -> None:
    prometheus = integrations[("fleet-tracking", "Prometheus Alertmanager")]
    firing = _alertmanager_group(
        status="firing",
        alertname="GpsIngestLag",
        service="fleet-tracking",
        severity="critical",
        summary="GPS positions arrive more than 5 minutes late",
        alerts=[("gps-ingest-0:9090", "Kafka consumer lag is 48,000 messages.", "9e8d7c6b5a40")],
        started=now - timedelta(minutes=25),
    )
    services.ingest(prometheus, kinds.alertmanager.parse_events(firing))


TRAFFIC = {"acme": _traffic_acme, "globex": _traffic_globex}


def seed(*, organization, users, stdout) -> None:
    specs = INTEGRATIONS.get(organization.slug, [])
    if not specs:
        return
    with transaction.atomic():
        rls.add_tenant(organization.pk)
        if Integration.objects.for_org(organization).exists():
            stdout.write(f"  {organization.slug}: integrations exist already")
            return
        catalog = {s.slug: s for s in Service.objects.for_org(organization)}
        integrations = {}
        for slug, name, kind in specs:
            if slug not in catalog:
                continue
            integrations[(slug, name)] = services.integration_create(
                organization=organization, actor=None, service=catalog[slug], kind=kind, name=name
            )
        for slug, levels in SEVERITY_MAPS.get(organization.slug, {}).items():
            if slug in catalog:
                services.severity_map_set(
                    organization=organization, actor=None, service=catalog[slug], value=levels
                )
        if len(integrations) == len(specs):
            TRAFFIC[organization.slug](integrations, timezone.now())
        alerts = Alert.objects.for_org(organization).count()
        changes = ChangeEvent.objects.for_org(organization).count()
    stdout.write(
        f"  {organization.slug}: {len(integrations)} integrations, {alerts} alerts, "
        f"{changes} change events"
    )
    for (slug, name), integration in integrations.items():
        stdout.write(f"    {slug} / {name}: {kinds.how_to_send(integration)}")
