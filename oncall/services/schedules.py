"""Writes to schedules: the schedule with its layers, overrides, and shift swaps.

Every function is keyword-only, runs in one transaction inside its organization
(:func:`tenancy.rls.in_tenant`) and records what it did in the audit log in that
transaction. Bad input raises :class:`core.errors.DomainError` naming the field, so the
API, the admin and the portal show the same message and nothing is stored half-way.

Who may act is the caller's business (the API and the admin ask the role permissions),
except where it depends on the object itself: a responder offers and cancels only their
own shifts; someone with ``oncall.change_schedule`` (admins, owners, the system) may act
on behalf of anyone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.timezone import now

from core.errors import Conflict, DomainError, Forbidden
from oncall.models import Layer, Override, Participant, Schedule, StepTarget, Swap
from oncall.rotations import final_segments, with_rotations
from tenancy import audit, rls
from tenancy.backends import role_in
from tenancy.models import Membership
from tenancy.roles import role_has_perm

User = get_user_model()

SCHEDULE_FIELDS = ("name", "description", "time_zone", "team")
LAYER_FIELDS = (
    "name",
    "position",
    "rotation_start",
    "shift_length",
    "shift_unit",
    "handoff_time",
    "restrictions",
)
MAX_LAYERS = 20
MAX_PARTICIPANTS = 100
MAX_SPAN = timedelta(days=366)
"""The longest override or swap; longer cover is a change of the rotation."""


def is_schedule_admin(actor, organization) -> bool:
    """Whether the actor configures schedules here (and so may act for others)."""
    return actor is None or role_has_perm(role_in(actor, organization), "oncall.change_schedule")


def members_by_username(organization, usernames) -> dict[str, User]:
    memberships = Membership.objects.for_org(organization).filter(user__username__in=usernames)
    return {m.user.username: m.user for m in memberships.select_related("user")}


def check_member(organization, field: str, user) -> None:
    if user is None or not Membership.objects.for_org(organization).filter(user=user).exists():
        raise DomainError("Not a member of this organization.", field=field)


def check_span(start: datetime, end: datetime) -> None:
    for field, value in (("start", start), ("end", end)):
        if value is None or value.tzinfo is None:
            raise DomainError("Give a time with its offset.", field=field)
    if end <= start:
        raise DomainError("The end must be after the start.", field="end")
    if end - start > MAX_SPAN:
        raise DomainError(f"At most {MAX_SPAN.days} days.", field="end")


def _check_schedule_fields(organization, fields: dict) -> None:
    if "time_zone" in fields:
        try:
            fields["time_zone"] = ZoneInfo(str(fields["time_zone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise DomainError("Unknown time zone.", field="time_zone") from None
    team = fields.get("team")
    if team is not None and team.organization_id != organization.pk:
        raise DomainError("Not found.", field="team")


def _layers_build(organization, schedule, layers) -> None:
    """Creates ``layers`` (dicts of layer fields plus ``participants``, usernames)."""
    if len(layers) > MAX_LAYERS:
        raise DomainError(f"At most {MAX_LAYERS} layers.", field="layers")
    positions = [layer.get("position", index) for index, layer in enumerate(layers)]
    if len(set(positions)) != len(positions):
        raise DomainError("Each layer needs its own position.", field="layers")
    wanted = {name for layer in layers for name in layer.get("participants", [])}
    members = members_by_username(organization, wanted)
    participants = []
    for index, (spec, position) in enumerate(zip(layers, positions, strict=True)):
        where = f"Layer {index + 1}"
        names = list(spec.get("participants", []))
        if len(names) > MAX_PARTICIPANTS:
            raise DomainError(f"{where}: at most {MAX_PARTICIPANTS} people.", field="layers")
        missing = [name for name in names if name not in members]
        if missing:
            raise DomainError(
                f"{where}: not a member of this organization: {', '.join(missing)}.",
                field="layers",
            )
        fields = {key: spec[key] for key in LAYER_FIELDS if key in spec}
        fields["position"] = position
        layer = Layer(organization=organization, schedule=schedule, **fields)
        try:
            layer.full_clean(exclude=["organization", "schedule"])
        except ValidationError as exc:
            raise DomainError(f"{where}: {'; '.join(exc.messages)}", field="layers") from None
        layer.save()
        participants += [
            Participant(organization=organization, layer=layer, user=members[name], position=i)
            for i, name in enumerate(names)
        ]
    Participant.objects.bulk_create(participants)


def _layers_summary(layers) -> list[dict]:
    return [
        {key: spec.get(key) for key in (*LAYER_FIELDS, "participants") if key in spec}
        for spec in layers
    ]


def _save_schedule(schedule: Schedule) -> None:
    try:
        with transaction.atomic():
            schedule.save()
    except IntegrityError as exc:
        raise Conflict("A schedule with that name exists already.", field="name") from exc


@rls.in_tenant
def schedule_create(*, organization, actor, name: str, layers=(), **fields) -> Schedule:
    """A schedule with its layers; ``fields`` are description, time_zone and team."""
    _check_schedule_fields(organization, fields)
    schedule = Schedule(organization=organization, name=name, **fields)
    _save_schedule(schedule)
    _layers_build(organization, schedule, list(layers))
    audit.record(
        organization=organization,
        actor=actor,
        action="schedule.created",
        target=schedule,
        after={**audit.snapshot(schedule, SCHEDULE_FIELDS), "layers": _layers_summary(layers)},
    )
    return schedule


@rls.in_tenant
def schedule_update(*, organization, actor, schedule: Schedule, layers=None, **changes):
    """Changes the schedule's fields; ``layers``, when given, replace all of its layers."""
    _check_schedule_fields(organization, changes)
    if changes:
        conflict = Conflict("A schedule with that name exists already.", field="name")
        audit.save_changes(
            schedule, changes, organization=organization, actor=actor, conflict=conflict
        )
    if layers is not None:
        Layer.objects.for_org(organization).filter(schedule=schedule).delete()
        _layers_build(organization, schedule, list(layers))
        audit.record(
            organization=organization,
            actor=actor,
            action="schedule.layers_replaced",
            target=schedule,
            after={"layers": _layers_summary(layers)},
        )
    return schedule


def policies_paging(organization, schedule: Schedule) -> list[str]:
    """The names of the escalation policies with a step that pages the schedule."""
    return sorted(
        set(
            StepTarget.objects.for_org(organization)
            .filter(schedule=schedule)
            .values_list("step__policy__name", flat=True)
        )
    )


@rls.in_tenant
def schedule_delete(*, organization, actor, schedule: Schedule) -> None:
    """Refused while an escalation policy pages the schedule: its step would page nobody."""
    used = policies_paging(organization, schedule)
    if used:
        raise Conflict(
            f"Escalation policies page this schedule ({', '.join(used)}): take it out of "
            "them first.",
            field="schedule",
        )
    audit.record(
        organization=organization,
        actor=actor,
        action="schedule.deleted",
        target=schedule,
        before=audit.snapshot(schedule, SCHEDULE_FIELDS),
    )
    schedule.delete()


@rls.in_tenant
def override_create(
    *, organization, actor, schedule: Schedule, user, start: datetime, end: datetime
) -> Override:
    """Someone covers the schedule from ``start`` to ``end``, whoever the layers name."""
    check_member(organization, "user", user)
    check_span(start, end)
    override = Override.objects.create(
        organization=organization,
        schedule=schedule,
        user=user,
        start=start,
        end=end,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit.record(
        organization=organization,
        actor=actor,
        action="override.created",
        target=override,
        after={"schedule": schedule, "user": user, "start": start, "end": end},
    )
    return override


@rls.in_tenant
def override_delete(*, organization, actor, override: Override) -> None:
    audit.record(
        organization=organization,
        actor=actor,
        action="override.deleted",
        target=override,
        before={"schedule": override.schedule_id, "user": override.user, "start": override.start},
    )
    override.delete()


def _lock_swap(organization, swap: Swap) -> Swap:
    return (
        Swap.objects.for_org(organization)
        .select_for_update()
        .select_related("schedule", "offered_by")
        .get(pk=swap.pk)
    )


@rls.in_tenant
def swap_offer(
    *,
    organization,
    actor,
    schedule: Schedule,
    start: datetime,
    end: datetime,
    note: str = "",
    offered_by=None,
) -> Swap:
    """Offers a shift for a colleague to take. The offerer is the actor unless a schedule
    admin offers for someone; they must be on call for the whole range, by the schedule
    as it stands (layers and overrides)."""
    offered_by = offered_by or (actor if getattr(actor, "pk", None) else None)
    if offered_by is None:
        raise DomainError("Name whose shift this is.", field="offered_by")
    if offered_by != actor and not is_schedule_admin(actor, organization):
        raise Forbidden("Only schedule admins offer someone else's shift.", field="offered_by")
    check_member(organization, "offered_by", offered_by)
    check_span(start, end)
    if end <= now():
        raise DomainError("This shift is over.", field="end")
    loaded = with_rotations(Schedule.objects.for_org(organization).filter(pk=schedule.pk))
    segments = final_segments(loaded.get(), start, end)
    if any(offered_by.pk not in segment.user_ids for segment in segments):
        raise DomainError(
            f"{offered_by.get_username()} is not on call for all of this range.", field="start"
        )
    swap = Swap.objects.create(
        organization=organization,
        schedule=schedule,
        offered_by=offered_by,
        start=start,
        end=end,
        note=note,
    )
    audit.record(
        organization=organization,
        actor=actor,
        action="swap.offered",
        target=swap,
        after={"schedule": schedule, "start": start, "end": end},
    )
    return swap


@rls.in_tenant
def swap_accept(*, organization, actor, swap: Swap, taken_by=None) -> Swap:
    """A colleague takes the offered shift: an override for its range, linked to it.
    Schedule admins may accept on behalf of someone (``taken_by``)."""
    swap = _lock_swap(organization, swap)
    taken_by = taken_by or (actor if getattr(actor, "pk", None) else None)
    if taken_by is None:
        raise DomainError("Name who takes the shift.", field="taken_by")
    if taken_by != actor and not is_schedule_admin(actor, organization):
        raise Forbidden("Only schedule admins accept for someone else.", field="taken_by")
    check_member(organization, "taken_by", taken_by)
    if swap.status != Swap.Status.OFFERED:
        raise Conflict(f"This swap is {swap.get_status_display().lower()}.", field="status")
    if taken_by.pk == swap.offered_by_id:
        raise DomainError("The shift is yours already.", field="taken_by")
    if swap.end <= now():
        raise Conflict("This shift is over.", field="status")
    override = Override.objects.create(
        organization=organization,
        schedule=swap.schedule,
        user=taken_by,
        start=swap.start,
        end=swap.end,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    changes = {
        "status": Swap.Status.ACCEPTED,
        "taken_by": taken_by,
        "override": override,
        "decided_at": now(),
    }
    return audit.save_changes(swap, changes, organization=organization, actor=actor)


@rls.in_tenant
def swap_cancel(*, organization, actor, swap: Swap) -> Swap:
    """Withdraws an offer that nobody has taken (the offerer or a schedule admin)."""
    swap = _lock_swap(organization, swap)
    if swap.offered_by_id != getattr(actor, "pk", None) and not is_schedule_admin(
        actor, organization
    ):
        raise Forbidden("Only the offerer or a schedule admin cancels a swap.")
    if swap.status != Swap.Status.OFFERED:
        raise Conflict(f"This swap is {swap.get_status_display().lower()}.", field="status")
    changes = {"status": Swap.Status.CANCELLED, "decided_at": now()}
    return audit.save_changes(swap, changes, organization=organization, actor=actor)


def _member_lookup(organization) -> dict[str, User]:
    """Usernames and lower-cased e-mail addresses of the members -> the member."""
    lookup: dict[str, User] = {}
    for membership in Membership.objects.for_org(organization).select_related("user"):
        user = membership.user
        if user.email:
            lookup.setdefault(user.email.lower(), user)
        lookup[user.username] = user
    return lookup


@rls.in_tenant
def overrides_import(*, organization, actor, schedule: Schedule, events) -> dict:
    """Overrides from imported calendar events (:class:`oncall.ical.ImportedEvent`), each
    for the member it names by e-mail address or username. Returns ``{"created": n,
    "unchanged": n, "errors": [{"event": n, "uid": …, "error": …}]}``: events that cannot
    be one are reported; one the schedule has already (the same person and times: the
    file imported again) is left as it is; the others are created."""
    # One import of a schedule at a time, so two at once cannot both find an event new.
    Schedule.objects.for_org(organization).select_for_update().filter(pk=schedule.pk).first()
    lookup = _member_lookup(organization)
    present = set(
        Override.objects.for_org(organization)
        .filter(schedule=schedule)
        .values_list("user_id", "start", "end")
    )
    created, errors, unchanged = [], [], 0
    for event in events:
        error = event.error
        user = None
        if not error:
            user = next(
                (
                    lookup[key]
                    for name in event.names
                    for key in (name, name.lower())
                    if key in lookup
                ),
                None,
            )
            if user is None:
                error = f"No member named {', '.join(event.names)[:200]}."
        if not error:
            try:
                check_span(event.start, event.end)
            except DomainError as exc:
                error = f"{exc.field}: {exc.message}"
        if error:
            errors.append({"event": event.index, "uid": event.uid, "error": error})
            continue
        if (user.pk, event.start, event.end) in present:
            unchanged += 1
            continue
        present.add((user.pk, event.start, event.end))
        created.append(
            Override(
                organization=organization,
                schedule=schedule,
                user=user,
                start=event.start,
                end=event.end,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
        )
    Override.objects.bulk_create(created)
    if created:
        audit.record(
            organization=organization,
            actor=actor,
            action="override.imported",
            target=schedule,
            after={"created": len(created), "unchanged": unchanged, "refused": len(errors)},
        )
    return {"created": len(created), "unchanged": unchanged, "errors": errors}
