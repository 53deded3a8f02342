"""Demo data: on-call schedules for two teams (with layers and an override), two-step
escalation policies on the demo services, escalations running on the incidents nobody has
acknowledged yet, and four weeks of pages behind the on-call report."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Service
from incidents.states import Status
from oncall import rotations
from oncall.models import Page, Schedule
from oncall.services import escalations, policies
from oncall.services import schedules as schedule_services
from tenancy import rls
from tenancy.models import Team

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
HISTORY_DAYS = 28

# Per organization: schedules (layers bottom to top, an override in days from today),
# then policies (steps: minutes to wait, whom to page) and what uses them.
DEMO = {
    "acme": {
        "admin": "bob",
        "schedules": [
            {
                "name": "Platform primary",
                "team": "platform",
                "description": "Weekly rotation, with Bob covering office hours.",
                "layers": [
                    {"name": "Weekly rotation", "unit": "weeks", "people": ["carol", "dave"]},
                    {
                        "name": "Office hours",
                        "unit": "days",
                        "people": ["bob"],
                        "restrictions": [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}],
                    },
                ],
                # Dave covers tomorrow evening (18:00-23:00): Carol is at a wedding.
                "override": ("dave", 1, time(18), 5),
            },
            {
                "name": "Network on-call",
                "team": "network",
                "description": "Daily handoff at 08:00.",
                "handoff": time(8),
                "layers": [{"name": "Daily", "unit": "days", "people": ["dave", "alice"]}],
                "override": ("alice", 3, time(8), 24),
            },
        ],
        "policies": [
            {
                "name": "Platform SRE",
                "description": "The on-call engineer, then the team's manager.",
                "repeat": 1,
                "steps": [
                    {"delay_minutes": 15, "schedules": ["Platform primary"]},
                    {"delay_minutes": 15, "users": ["bob"]},
                ],
                "services": ["checkout-api", "payments", "website"],
                "teams": ["platform"],
            },
            {
                "name": "Network operations",
                "description": "Whoever has the network pager, then the whole team.",
                "steps": [
                    {"delay_minutes": 10, "schedules": ["Network on-call"]},
                    {"delay_minutes": 20, "teams": ["network"], "users": ["alice"]},
                ],
                "services": ["corporate-vpn"],
                "teams": ["network"],
            },
        ],
    },
    "globex": {
        "admin": "gina",
        "schedules": [
            {
                "name": "Operations",
                "team": "operations",
                "layers": [{"name": "Weekly", "unit": "weeks", "people": ["carol", "gina"]}],
            }
        ],
        "policies": [
            {
                "name": "Operations",
                "steps": [
                    {"delay_minutes": 10, "schedules": ["Operations"]},
                    {"delay_minutes": 15, "users": ["gina"]},
                ],
                "services": ["fleet-tracking"],
                "teams": ["operations"],
            }
        ],
    },
}


def seed(*, organization, users, stdout) -> None:
    spec = DEMO.get(organization.slug)
    if spec is None:
        return
    if Schedule.objects.for_org(organization).exists():
        stdout.write(f"  {organization.slug}: on-call exists already")
        return
    admin = users.get(spec["admin"])
    teams = {team.slug: team for team in Team.objects.for_org(organization)}
    catalog = {service.slug: service for service in Service.objects.for_org(organization)}
    today = timezone.localdate()
    start = today - timedelta(days=today.weekday() + HISTORY_DAYS)  # a Monday
    made = {}
    for item in spec["schedules"]:
        made[item["name"]] = _schedule(organization, admin, item, teams, start, users)
    for item in spec["policies"]:
        _policy(organization, admin, item, made, teams, catalog)
    started = [
        escalation
        for incident in Incident.objects.for_org(organization).filter(status=Status.NEW)
        if (
            escalation := escalations.escalation_start(organization=organization, incident=incident)
        )
    ]
    pages = _history(organization, list(made.values()))
    stdout.write(
        f"  {organization.slug}: {len(made)} schedules, {len(spec['policies'])} escalation "
        f"policies, {len(started)} escalations running, {pages} past pages"
    )


def _schedule(organization, admin, item, teams, start: date, users) -> Schedule:
    schedule = schedule_services.schedule_create(
        organization=organization,
        actor=admin,
        name=item["name"],
        description=item.get("description", ""),
        team=teams.get(item.get("team")),
        time_zone=str(organization.timezone),
        layers=[
            {
                "name": layer["name"],
                "position": position,
                "rotation_start": start,
                "handoff_time": item.get("handoff", time(9)),
                "shift_length": 1,
                "shift_unit": layer["unit"],
                "participants": [name for name in layer["people"] if name in users],
                "restrictions": layer.get("restrictions", []),
            }
            for position, layer in enumerate(item["layers"])
        ],
    )
    if "override" in item and item["override"][0] in users:
        username, days, at, hours = item["override"]
        zone = rotations.zone_of(schedule)
        begins = rotations.localize(timezone.localdate() + timedelta(days=days), at, zone)
        schedule_services.override_create(
            organization=organization,
            actor=admin,
            schedule=schedule,
            user=users[username],
            start=begins,
            end=begins + timedelta(hours=hours),
        )
    return schedule


def _policy(organization, admin, item, schedules, teams, catalog) -> None:
    steps = [
        {**step, "schedules": [schedules[name].pk for name in step.get("schedules", [])]}
        for step in item["steps"]
    ]
    policy = policies.policy_create(
        organization=organization,
        actor=admin,
        name=item["name"],
        description=item.get("description", ""),
        repeat=item.get("repeat", 0),
        steps=steps,
    )
    for slug in item["services"]:
        if slug in catalog:
            policies.service_policy_set(
                organization=organization, actor=admin, service=catalog[slug], value=policy
            )
    for slug in item["teams"]:
        if slug in teams:
            policies.team_policy_set(
                organization=organization, actor=admin, team=teams[slug], value=policy
            )


def _history(organization, schedules) -> int:
    """Pages of the past four weeks on the organization's resolved and closed incidents, to
    whoever the schedules had on call then, acknowledged within minutes (the report's
    data: a page a few days, some at night)."""
    done = list(
        Incident.objects.for_org(organization).filter(status__in=(Status.RESOLVED, Status.CLOSED))
    )
    if not done or not schedules:
        return 0
    chance = random.Random(organization.slug)  # noqa: S311 (demo data, repeatable)
    now = timezone.now()
    with transaction.atomic():
        rls.add_tenant(organization.pk)
        loaded = list(
            rotations.with_rotations(
                Schedule.objects.for_org(organization).filter(pk__in=[s.pk for s in schedules])
            )
        )
        rows = []
        for day in range(HISTORY_DAYS, 0, -1):
            for _ in range(chance.choice((0, 1, 1, 2, 3))):
                moment = now - timedelta(
                    days=day, hours=chance.randrange(24), minutes=chance.randrange(60)
                )
                schedule = chance.choice(loaded)
                rows += [
                    Page(
                        organization=organization,
                        incident=chance.choice(done),
                        recipient=person,
                        reason=f"Paged from {schedule.name}",
                        status=Page.Status.ACKNOWLEDGED,
                        created_at=moment,
                        acknowledged_at=moment + timedelta(minutes=chance.randint(1, 14)),
                    )
                    for person in rotations.oncall_at(schedule, moment).users
                ]
        Page.objects.bulk_create(rows)
    return len(rows)
