"""Demo data: a service catalog and incidents in every state, with timelines."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents import services
from incidents.models import Category, Incident, Service
from incidents.states import Status
from tenancy.models import Team

SERVICES = {
    "acme": [
        ("checkout-api", "Checkout API", "platform", Service.Health.DEGRADED),
        ("payments", "Payments", "platform", Service.Health.OPERATIONAL),
        ("corporate-vpn", "Corporate VPN", "network", Service.Health.OPERATIONAL),
        ("email", "E-mail and calendar", "service-desk", Service.Health.OPERATIONAL),
        ("website", "Public website", "platform", Service.Health.OPERATIONAL),
    ],
    "globex": [("fleet-tracking", "Fleet tracking", "operations", Service.Health.OPERATIONAL)],
}

# title, service, category, impact, urgency, severity, reporter, assignee, path through states
INCIDENTS = {
    "acme": [
        (
            "Checkout returns HTTP 502 for a third of requests",
            "checkout-api",
            "software",
            1,
            1,
            "sev1",
            "erin",
            "carol",
            [Status.ACKNOWLEDGED, Status.IN_PROGRESS],
        ),
        (
            "VPN drops every few minutes in the Berlin office",
            "corporate-vpn",
            "network",
            2,
            2,
            "sev3",
            "erin",
            "dave",
            [Status.ACKNOWLEDGED],
        ),
        ("Cannot open shared calendar", "email", "software", 3, 3, "", "erin", None, []),
        (
            "Payment provider timeouts",
            "payments",
            "software",
            1,
            2,
            "sev2",
            "frank",
            "carol",
            [Status.IN_PROGRESS, Status.ON_HOLD],
        ),
        (
            "Website images missing after deploy",
            "website",
            "software",
            2,
            3,
            "sev4",
            "erin",
            "dave",
            [Status.IN_PROGRESS, Status.RESOLVED],
        ),
        (
            "Laptop docking station not detected",
            None,
            "hardware",
            3,
            2,
            "",
            "erin",
            "bob",
            [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
        ),
        (
            "Duplicate report: checkout errors",
            "checkout-api",
            "software",
            2,
            2,
            "",
            "frank",
            None,
            [Status.CANCELLED],
        ),
    ],
    "globex": [
        (
            "Trucks not reporting position",
            "fleet-tracking",
            "network",
            1,
            2,
            "sev2",
            "hank",
            "carol",
            [Status.ACKNOWLEDGED],
        ),
    ],
}


def seed(*, organization, users, stdout) -> None:
    teams = {team.slug: team for team in Team.objects.for_org(organization)}
    categories = {c.slug: c for c in Category.objects.for_org(organization)}
    catalog = {}
    for slug, name, team, health in SERVICES.get(organization.slug, []):
        catalog[slug] = services.service_create(
            organization=organization,
            actor=None,
            slug=slug,
            name=name,
            team=teams.get(team),
            status=health,
        )
    responder = next((u for u in users.values() if u.username in ("carol", "gina")), None)
    started = timezone.now() - timedelta(hours=6)
    for spec in INCIDENTS.get(organization.slug, []):
        title, service, category, impact, urgency, severity, reporter, assignee, path = spec
        incident = services.incident_create(
            organization=organization,
            actor=users.get(reporter),
            title=title,
            description=f"Reported through the portal.\n\n**Seen:** {title.lower()}.",
            category=categories.get(category),
            impact=impact,
            urgency=urgency,
            severity=severity,
            service=catalog.get(service),
            reporter=users.get(reporter),
            occurred_at=started,
        )
        actor = users.get(assignee) or responder
        if assignee:
            services.incident_update(
                organization=organization, actor=actor, incident=incident, assignee=users[assignee]
            )
        for status in path:
            services.incident_transition(
                organization=organization,
                actor=actor,
                incident=incident,
                status=status,
                note="Waiting for the payment provider." if status == Status.ON_HOLD else "",
                resolution="Rolled back the faulty release." if status == Status.RESOLVED else None,
            )
        if incident.severity in ("sev1", "sev2") and path:
            services.incident_post_update(
                organization=organization,
                actor=actor,
                incident=incident,
                body="We are investigating elevated errors. Next update in 30 minutes.",
            )
            services.incident_comment(
                organization=organization,
                actor=actor,
                incident=incident,
                body="Error rate started with the 09:40 deploy; checking the rollout.",
            )
    count = Incident.objects.for_org(organization).count()
    stdout.write(f"  {organization.slug}: {len(catalog)} services, {count} incidents")
    _seed_saved_views(organization=organization, users=users)  # Saved queue views


# Saved queue views: name and the queue filters, per demo responder and organization.
SAVED_VIEWS = {
    ("acme", "carol"): [
        ("My open incidents", "status=new&status=acknowledged&status=in_progress&assignee=me"),
        ("Checkout on hold", "status=on_hold&q=checkout"),
    ],
}


def _seed_saved_views(*, organization, users) -> None:
    for (slug, username), views in SAVED_VIEWS.items():
        owner = users.get(username)
        if slug != organization.slug or owner is None:
            continue
        for name, query in views:
            services.saved_view_save(organization=organization, owner=owner, name=name, query=query)
