"""Who a step's target pages at a given moment.

A target is ``{"kind", "id", "name"}`` (from a policy snapshot, :mod:`oncall.snapshots`).
Only people who can act on a page are paged: active members of the organization whose
role responds to incidents (may acknowledge one). A user target pages that person; a
team, its members; a schedule, whoever it has on call then. A target deleted since the
snapshot was taken resolves to nobody, and says it is gone so the incident's timeline
can say so too.

:class:`Resolver` reads what a set of targets needs once (the engine: a batch of due
escalations; the preview: a whole timeline) and then answers for any moment without a
query. The engine, the preview and "page someone" all resolve through it, so they agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from oncall.models import Schedule
from oncall.rotations import oncall_at, with_rotations
from tenancy.models import Membership, Team, TeamMembership
from tenancy.roles import roles_with_perm

# A role with this permission acknowledges, so its members are paged.
RESPONDS = "incidents.change_incident"


GONE = "no longer exists"


@dataclasses.dataclass(frozen=True)
class Resolution:
    people: list
    why: str = ""  # why it pages nobody, when it does: GONE, not a responder, …


class Resolver:
    """What ``targets`` page, read with a fixed number of queries however many there are
    (teams and their members; schedules with their rotations; the responding members
    among everyone named). ``since``: the earliest moment asked about (older overrides
    are not read)."""

    def __init__(self, organization, targets: Iterable[dict], *, since: datetime | None = None):
        wanted: dict[str, set[int]] = {"user": set(), "team": set(), "schedule": set()}
        for target in targets:
            if not isinstance(target, dict):
                continue  # :meth:`resolve` refuses it
            kind, pk = target.get("kind"), target.get("id")
            if kind in wanted and isinstance(pk, int):  # else :meth:`resolve` refuses it
                wanted[kind].add(pk)
        candidates = set(wanted["user"])
        self.teams: dict[int, list[int]] = {}
        if wanted["team"]:
            self.teams = {
                pk: []
                for pk in Team.objects.for_org(organization)
                .filter(pk__in=wanted["team"])
                .values_list("pk", flat=True)
            }
            rows = (
                TeamMembership.objects.for_org(organization)
                .filter(team_id__in=self.teams)
                .order_by("user__username")
                .values_list("team_id", "user_id")
            )
            for team_id, user_id in rows:
                self.teams[team_id].append(user_id)
                candidates.add(user_id)
        self.schedules: dict[int, Schedule] = {}
        if wanted["schedule"]:
            schedules = Schedule.objects.for_org(organization).filter(pk__in=wanted["schedule"])
            for schedule in with_rotations(schedules, overrides_since=since):
                self.schedules[schedule.pk] = schedule
                candidates.update(o.user_id for o in schedule.overrides.all())
                for layer in schedule.layers.all():
                    candidates.update(p.user_id for p in layer.participants.all())
        self.members = {}
        if candidates:
            memberships = Membership.objects.for_org(organization).filter(
                user_id__in=candidates, user__is_active=True, role__in=roles_with_perm(RESPONDS)
            )
            self.members = {m.user_id: m.user for m in memberships.select_related("user")}

    def _paged(self, user_ids: Iterable[int]) -> list:
        return [self.members[pk] for pk in user_ids if pk in self.members]

    def resolve(self, target: dict, at: datetime) -> Resolution:
        kind, pk = target["kind"], target["id"]
        if kind == "user":
            people = self._paged([pk])
            return Resolution(people, "" if people else "is not an active responder here")
        if kind == "team":
            if pk not in self.teams:
                return Resolution([], GONE)
            return Resolution(self._paged(self.teams[pk]), "has no responders")
        schedule = self.schedules.get(pk)
        if schedule is None:
            return Resolution([], GONE)
        on_call = self._paged(user.pk for user in oncall_at(schedule, at).users)
        return Resolution(on_call, "has no responder on call")


def resolve(organization, target: dict, at: datetime) -> Resolution:
    """Whom one target pages at ``at``."""
    return Resolver(organization, [target], since=at).resolve(target, at)
