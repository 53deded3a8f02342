"""The escalation engine over a backlog of due escalations, in one process, on PostgreSQL.

    DATABASE_URL=postgres://… python -m benchmarks.escalation [--escalations 10000]

What it does, in order:

1. Refuses to run without PostgreSQL; applies migrations if any are missing.
2. Creates two fresh organizations, each with a responder, a two-step escalation policy
   whose first step pages that responder, and ``--escalations`` new incidents, each with
   an escalation due now (bulk inserts: the backlog a worker finds after an outage).
3. The engine: ``escalations_tick`` for the first organization, called in a loop until
   nothing is due, the way one worker runs its per-organization task; timed.
4. The baseline, in the same run: a raw psycopg loop doing the same writes for the second
   organization in the same batches (take due rows with FOR UPDATE SKIP LOCKED, lock each
   incident, insert its page, timeline entry and event, move the escalation on).
5. Checks that every escalation paged exactly once (one page each, none twice, every one
   moved to step 2) and prints escalations/s for both and their ratio. Exits 1 when a
   check fails.

Events are dispatched after each commit to ``CELERY_BROKER_URL`` as in production (nothing
consumes them here; point it at a Redis database you can flush).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta

from benchmarks import database

BATCH = 50  # the engine's TICK_BATCH: rows one transaction takes


def create_backlog(run: str, label: str, count: int):
    """An organization with a responder, a two-step policy and ``count`` due escalations."""
    from django.utils import timezone

    from incidents.models import Incident, IncidentSequence
    from oncall.models import Escalation, EscalationPolicy, Step, StepTarget
    from oncall.snapshots import snapshot
    from tenancy import rls
    from tenancy.models import Role
    from tenancy.services import membership_create, organization_create, user_create

    organization = organization_create(slug=f"bench-{label}-{run}", name=f"Bench {label} {run}")
    user = user_create(username=f"oncall-{label}-{run}", email=f"{label}-{run}@example.com")
    membership_create(organization=organization, actor=None, user=user, role=Role.RESPONDER)
    now = timezone.now()
    with rls.tenant_context(organization.pk):
        policy = EscalationPolicy.objects.create(organization=organization, name="Bench")
        for position in (0, 1):
            step = Step.objects.create(
                organization=organization, policy=policy, position=position, delay_minutes=30
            )
            StepTarget.objects.create(organization=organization, step=step, user=user)
        frozen = snapshot(policy)
        incidents = Incident.objects.bulk_create(
            [
                Incident(organization=organization, number=n, title=f"Backlog {n}")
                for n in range(1, count + 1)
            ],
            batch_size=2000,
        )
        IncidentSequence.objects.update_or_create(
            organization=organization, defaults={"last_number": count}
        )
        Escalation.objects.bulk_create(
            [
                Escalation(
                    organization=organization,
                    incident=incident,
                    policy=policy,
                    snapshot=frozen,
                    next_escalation_at=now - timedelta(seconds=1),
                    started_at=now,
                )
                for incident in incidents
            ],
            batch_size=2000,
        )
    return organization, user


def run_engine(organization) -> tuple[int, float]:
    from oncall.services.escalations import escalations_tick

    advanced, started = 0, time.perf_counter()
    while True:
        done = escalations_tick(organization_id=organization.pk)
        advanced += done
        if done == 0:
            return advanced, time.perf_counter() - started


def run_baseline(organization, user) -> tuple[int, float]:
    """The engine's writes as plain SQL, through one psycopg connection."""
    import json

    import psycopg
    from django.db import connection

    settings = connection.get_connection_params()
    dsn = {
        key: settings[key]
        for key in ("host", "port", "user", "password", "dbname")
        if settings.get(key)
    }
    reason = "Step 1: user bench"
    advanced, started = 0, time.perf_counter()
    with psycopg.connect(**dsn) as raw:
        while True:
            with raw.transaction(), raw.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('app.organization_id', %s, true)", [str(organization.pk)]
                )
                cursor.execute(
                    "SELECT id, incident_id FROM oncall_escalation WHERE organization_id = %s "
                    "AND state = 'active' AND next_escalation_at <= now() "
                    "ORDER BY next_escalation_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
                    [organization.pk, BATCH],
                )
                due = cursor.fetchall()
                for escalation_id, incident_id in due:
                    cursor.execute(
                        "SELECT id FROM incidents_incident WHERE id = %s FOR UPDATE SKIP LOCKED",
                        [incident_id],
                    )
                    cursor.execute(
                        "INSERT INTO oncall_page (organization_id, incident_id, escalation_id, "
                        "step, repeat, recipient_id, reason, status, created_at) "
                        "VALUES (%s, %s, %s, 0, 0, %s, %s, 'open', now()) RETURNING id",
                        [organization.pk, incident_id, escalation_id, user.pk, reason],
                    )
                    (page_id,) = cursor.fetchone()
                    data = {"page": page_id, "recipient": user.username, "step": 0, "repeat": 0}
                    cursor.execute(
                        "INSERT INTO incidents_timelineentry (organization_id, incident_id, kind, "
                        "actor_label, is_public, body, data, created_at) "
                        "VALUES (%s, %s, 'notification', 'Beacon', false, %s, %s, now())",
                        [
                            organization.pk,
                            incident_id,
                            f"Paged {user.username}: {reason}",
                            json.dumps(data),
                        ],
                    )
                    cursor.execute(
                        "INSERT INTO events_event (organization_id, type, stream, payload, "
                        "occurred_at, redispatches) VALUES (%s, 'page.created', %s, %s, now(), 0)",
                        [organization.pk, f"incident:{incident_id}", json.dumps(data)],
                    )
                    cursor.execute(
                        "UPDATE oncall_escalation SET step = 1, "
                        "next_escalation_at = now() + interval '30 minutes' WHERE id = %s",
                        [escalation_id],
                    )
                advanced += len(due)
            if not due:
                return advanced, time.perf_counter() - started


def check(organization, count: int) -> list[str]:
    from django.db.models import Count

    from oncall.models import Escalation, Page
    from tenancy import rls

    problems = []
    with rls.tenant_context(organization.pk):
        pages = Page.objects.for_org(organization).count()
        doubled = (
            Page.objects.for_org(organization)
            .values("escalation", "step", "repeat", "recipient")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
        moved = Escalation.objects.for_org(organization).filter(step=1, repeat=0).count()
    if pages != count:
        problems.append(f"{organization.slug}: {pages} pages, expected {count}")
    if doubled:
        problems.append(f"{organization.slug}: {doubled} steps paged twice")
    if moved != count:
        problems.append(f"{organization.slug}: {moved} escalations at step 2, expected {count}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--escalations", type=int, default=10_000)
    args = parser.parse_args(argv)
    database.setup_django()
    from django.conf import settings

    run = uuid.uuid4().hex[:8]
    print(f"Creating two backlogs of {args.escalations} due escalations…", flush=True)
    engine_org, _ = create_backlog(run, "engine", args.escalations)
    baseline_org, baseline_user = create_backlog(run, "sql", args.escalations)
    print(f"Broker for events: {settings.CELERY_BROKER_URL.split('@')[-1]}", flush=True)

    advanced, engine_seconds = run_engine(engine_org)
    raw_advanced, raw_seconds = run_baseline(baseline_org, baseline_user)
    problems = check(engine_org, args.escalations) + check(baseline_org, args.escalations)

    engine_rate = advanced / engine_seconds
    raw_rate = raw_advanced / raw_seconds
    print()
    print("| run | escalations | seconds | escalations/s |")
    print("|---|---|---|---|")
    engine = "engine (escalations_tick, one process)"
    print(f"| {engine} | {advanced} | {engine_seconds:.1f} | {engine_rate:,.0f} |")
    print(f"| raw SQL loop, same writes | {raw_advanced} | {raw_seconds:.1f} | {raw_rate:,.0f} |")
    print(f"\nengine / raw SQL: {engine_rate / raw_rate:.2f}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    print("Checks: every escalation paged once and moved on." if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
