"""Run by the real-worker event tests in their own processes (``python -m``):

burst <organization id> <changes per incident> <incident id>…
    comments on and moves the incidents, each change its own transaction, so each
    commit dispatches its events to the broker;
sweep <organization id>
    the periodic sweep of one organization, once.
"""

from __future__ import annotations

import sys

import django


def burst(organization_id: int, changes: int, incident_ids: list[int], moving=True) -> None:
    from incidents import services
    from incidents.models import Incident
    from incidents.states import Status
    from tenancy import rls
    from tenancy.models import Organization

    organization = Organization.objects.get(pk=organization_id)
    with rls.tenant_context(organization_id):
        incidents = list(Incident.objects.for_org(organization).filter(pk__in=incident_ids))
    moves = [Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.ON_HOLD, Status.IN_PROGRESS]
    for step in range(changes):
        for incident in incidents:
            if moving and step % 5 == 4:
                services.incident_transition(
                    organization=organization,
                    actor=None,
                    incident=incident,
                    status=moves[(step // 5) % len(moves)],
                )
            else:
                services.incident_comment(
                    organization=organization, actor=None, incident=incident, body=f"#{step}"
                )


def main(argv: list[str]) -> None:
    django.setup()
    command, organization_id, *rest = argv
    if command in ("burst", "comments"):
        burst(int(organization_id), int(rest[0]), [int(pk) for pk in rest[1:]], command == "burst")
    elif command == "sweep":
        from events import tasks

        print(tasks.sweep_organization(int(organization_id)))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
