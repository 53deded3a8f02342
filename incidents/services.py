"""Writes to incidents. Each names the organization and the actor and runs in one
transaction that locks the incident, changes it and appends its timeline entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core import signing
from django.db import transaction
from django.db.models import Count, F, Sum
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict, DomainError, Forbidden
from incidents import attachments as attachment_rules
from incidents import events, signals, sla_policy
from incidents import priority as priority_defaults
from incidents.models import (
    Attachment,
    Category,
    Incident,
    IncidentSequence,
    IncidentSettings,
    PriorityRule,
    Service,
    TimelineEntry,
    plausible_time,
)
from incidents.roles import WORK_INCIDENTS
from incidents.states import Status, allowed_targets
from tenancy import audit, rls
from tenancy.models import Membership, Role
from tenancy.roles import role_has_perm, roles_with_perm

DEFAULT_CATEGORIES = [
    ("software", "Software"),
    ("hardware", "Hardware"),
    ("network", "Network"),
    ("security", "Security"),
    ("service_request", "Service request"),
    ("other", "Other"),
]

# Fields a responder may change with incident_update, and how the timeline shows them.
UPDATABLE = (
    "title",
    "description",
    "category",
    "impact",
    "urgency",
    "severity",
    "service",
    "team",
    "assignee",
    "commander",
    "comms_lead",
    "error_codes",
    "tags",
    "occurred_at",
    "root_cause",
    "resolution",
)
PEOPLE = ("assignee", "commander", "comms_lead")
PEOPLE_LABELS = {"assignee": "assignee", "commander": "commander", "comms_lead": "comms lead"}


class InvalidTransition(Conflict):
    def __init__(self, source: str, target: str):
        self.allowed = list(allowed_targets(source))
        allowed = ", ".join(self.allowed) or "none (it is final)"
        super().__init__(
            f"An incident cannot go from {source} to {target}. Allowed: {allowed}.",
            field="status",
            code="invalid_transition",
        )

    def as_dict(self):
        return {**super().as_dict(), "allowed": self.allowed}


def organization_defaults_create(*, organization) -> None:
    """Categories, the design's priority matrix and the number sequence of a new tenant."""
    with transaction.atomic():
        rls.add_tenant(organization.pk)
        Category.objects.bulk_create(
            [Category(organization=organization, slug=s, name=n) for s, n in DEFAULT_CATEGORIES],
            ignore_conflicts=True,
        )
        PriorityRule.objects.bulk_create(
            [
                PriorityRule(organization=organization, impact=i, urgency=u, priority=p)
                for (i, u), p in priority_defaults.DEFAULT_MATRIX.items()
            ],
            ignore_conflicts=True,
        )
        IncidentSequence.objects.get_or_create(organization=organization)
        IncidentSettings.objects.get_or_create(organization=organization)  # Closure
        sla_policy.defaults_create(organization)  # SLA


def priority_for(*, organization, impact: int, urgency: int) -> int:
    rule = PriorityRule.objects.for_org(organization).filter(impact=impact, urgency=urgency).first()
    if rule is not None:
        return rule.priority
    return priority_defaults.DEFAULT_MATRIX[(impact, urgency)]


def _next_numbers(organization, count: int = 1) -> range:
    """The next ``count`` numbers, with the sequence row locked until this transaction ends:
    numbers are unique and, since a rolled-back creation rolls the counter back too,
    gapless."""
    sequences = IncidentSequence.objects.for_org(organization)
    if not sequences.update(last_number=F("last_number") + count):
        IncidentSequence.objects.get_or_create(organization=organization)
        sequences.update(last_number=F("last_number") + count)
    last = sequences.values_list("last_number", flat=True).get()
    return range(last - count + 1, last + 1)


def lock_numbering(organization_id: int) -> None:
    """Takes the organization's number sequence and holds it until this transaction ends:
    whoever holds it is the only one opening incidents in the organization."""
    sequence = IncidentSequence.objects.for_org(organization_id).select_for_update()
    if not list(sequence.values_list("pk", flat=True)):
        IncidentSequence.objects.get_or_create(organization_id=organization_id)
        list(sequence.values_list("pk", flat=True))


def _entry(
    incident, actor, kind, *, body="", data=None, is_public=False, save=True
) -> TimelineEntry:
    entry = TimelineEntry(
        organization_id=incident.organization_id,
        incident=incident,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=audit.actor_label(actor),
        body=body,
        data=data or {},
        is_public=is_public,
    )
    if save:
        entry.save()
    return entry


def _locked(organization, incident: Incident) -> Incident:
    return Incident.objects.for_org(organization).select_for_update().get(pk=incident.pk)


def _check_same_organization(organization, **related) -> None:
    for field, value in related.items():
        if (
            value is not None
            and getattr(value, "organization_id", organization.pk) != organization.pk
        ):
            raise DomainError("Not found.", field=field)


def _check_times(**times) -> None:
    for field, value in times.items():
        if value is not None and not plausible_time(value):
            raise DomainError("Give a time between 1970 and now.", field=field)


def _check_member(organization, field: str, user) -> None:
    """A person named on an incident or a review is a member here, or "not found"."""
    if user is None:
        return
    if not Membership.objects.for_org(organization).filter(user_id=user.pk).exists():
        raise DomainError("Not found.", field=field)


def _check_may_work(organization, field: str, user) -> None:
    """Only members whose role lets them work incidents are assignee, commander or comms
    lead; anyone else is refused on the field (a non-member is "not found")."""
    if user is None:
        return
    role = (
        Membership.objects.for_org(organization)
        .filter(user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise DomainError("Not found.", field=field)
    if not role_has_perm(role, WORK_INCIDENTS):
        allowed = ", ".join(Role(r).label.lower() for r in roles_with_perm(WORK_INCIDENTS))
        raise DomainError(
            f"{user.get_username()} is a {Role(role).label.lower()} here and cannot be the "
            f"{PEOPLE_LABELS[field]}: choose someone who works on incidents ({allowed}).",
            field=field,
            code="may_not_work_incidents",
        )


@rls.in_tenant
def incident_create(
    *,
    organization,
    actor,
    title: str,
    description: str = "",
    category: Category | None = None,
    impact: int = 3,
    urgency: int = 3,
    severity: str = "",
    service: Service | None = None,
    team=None,
    reporter=None,
    source: str = Incident.Source.PORTAL,
    occurred_at: datetime | None = None,
    detected_at: datetime | None = None,
    error_codes=(),
    tags=(),
    dedup_key: str = "",
) -> Incident:
    """Opens an incident."""
    _check_member(organization, "reporter", reporter)
    [incident] = incidents_open_many(
        organization=organization,
        actor=actor,
        specs=[
            {
                "title": title,
                "description": description,
                "category": category,
                "impact": impact,
                "urgency": urgency,
                "severity": severity,
                "service": service,
                "team": team,
                "reporter": reporter,
                "source": source,
                "occurred_at": occurred_at,
                "detected_at": detected_at,
                "error_codes": error_codes,
                "tags": tags,
                "dedup_key": dedup_key,
            }
        ],
    )
    return incident


@rls.in_tenant
def incidents_open_many(*, organization, actor, specs: list[dict]) -> list[Incident]:
    """Opens one incident per spec (the keyword arguments of :func:`incident_create`, the
    reporter already checked) with a few statements whatever their number: the matrix and
    the SLA targets are read once, the numbers taken at once, the rows and their "created"
    entries inserted in bulk. Alert ingestion opens a burst of incidents this way."""
    if not specs:
        return []
    matrix = dict(priority_defaults.DEFAULT_MATRIX)
    matrix.update(
        {
            (impact, urgency): priority
            for impact, urgency, priority in PriorityRule.objects.for_org(organization).values_list(
                "impact", "urgency", "priority"
            )
        }
    )
    policy = sla_policy.Policy(organization)
    now = timezone.now()
    incidents = []
    for number, spec in zip(_next_numbers(organization, len(specs)), specs, strict=True):
        spec = dict(spec)
        _check_times(occurred_at=spec.get("occurred_at"), detected_at=spec.get("detected_at"))
        service = spec.get("service")
        _check_same_organization(
            organization,
            category=spec.get("category"),
            service=service,
            team=spec.get("team"),
        )
        if spec.get("team") is None and service is not None:
            spec["team_id"] = service.team_id
            spec.pop("team", None)
        impact, urgency = spec.pop("impact", 3), spec.pop("urgency", 3)
        incident = Incident(
            organization=organization,
            number=number,
            impact=impact,
            urgency=urgency,
            priority=matrix[(impact, urgency)],
            error_codes=list(spec.pop("error_codes", ())),
            tags=list(spec.pop("tags", ())),
            detected_at=spec.pop("detected_at", None) or now,
            **spec,
        )
        sla_policy.start(incident, now, policy)
        incidents.append(incident)
    Incident.objects.bulk_create(incidents)
    TimelineEntry.objects.bulk_create(
        [
            _entry(
                incident,
                actor,
                TimelineEntry.Kind.CREATED,
                data={"priority": incident.priority, "source": incident.source},
                is_public=True,
                save=False,
            )
            for incident in incidents
        ]
    )
    events.publish_created(incidents, actor)
    return incidents


TAGS_MAX = 50  # as many as the API accepts on an incident


def tags_union(*tag_lists) -> list[str]:
    """Every tag of the lists once, in the order first seen; at most ``TAGS_MAX``."""
    return list(dict.fromkeys(tag for tags in tag_lists for tag in tags))[:TAGS_MAX]


def incidents_add_tags(*, organization_id: int, tags: dict[Incident, list[str]]) -> None:
    """Adds tags to incidents locked by the caller's transaction (alert ingestion: an
    incident carries the labels of every alert grouped onto it), in one statement."""
    changed = []
    now = timezone.now()
    for incident, new in tags.items():
        merged = tags_union(incident.tags, new)
        if merged != incident.tags:
            incident.tags, incident.updated_at = merged, now
            changed.append(incident)
    Incident.objects.for_org(organization_id).bulk_update(changed, ["tags", "updated_at"])


@rls.in_tenant
def incident_change(
    *,
    organization,
    actor,
    incident: Incident,
    changes: dict | None = None,
    priority: int | None = None,
    priority_reason: str = "",
    status: str | None = None,
    note: str = "",
    resolution: str | None = None,
    root_cause: str | None = None,
) -> Incident:
    """Everything one change of the incident asks for (an API ``PATCH``), with the
    incident locked once: the fields, then a priority override, then a status move, each
    with its timeline entries and events, all of it or nothing."""
    incident = _locked(organization, incident)
    if changes:
        incident = _update(organization, actor, incident, changes)
    if priority is not None:
        incident = _override_priority(actor, incident, priority, priority_reason)
    if status is not None:
        incident = _transition(
            actor, incident, status, note=note, resolution=resolution, root_cause=root_cause
        )
    return incident


@rls.in_tenant
def incident_transition(
    *,
    organization,
    actor,
    incident: Incident,
    status: str,
    note: str = "",
    resolution: str | None = None,
    root_cause: str | None = None,
) -> Incident:
    """Moves the incident along the lifecycle; forbidden moves raise InvalidTransition."""
    return _transition(
        actor,
        _locked(organization, incident),
        status,
        note=note,
        resolution=resolution,
        root_cause=root_cause,
    )


def _transition(
    actor,
    incident: Incident,
    status: str,
    *,
    note: str = "",
    resolution: str | None = None,
    root_cause: str | None = None,
) -> Incident:
    source = incident.status
    if status not in allowed_targets(source):
        raise InvalidTransition(source, status)
    now = timezone.now()
    fields = ["status", "updated_at", *sla_policy.transition(incident, status, now)]
    if resolution is not None:
        incident.resolution = resolution
        fields.append("resolution")
    if root_cause is not None:
        incident.root_cause = root_cause
        fields.append("root_cause")
    if status == Status.RESOLVED:
        if not incident.resolution.strip() and incident.source != Incident.Source.ALERT:
            raise DomainError("Say how it was resolved.", field="resolution")
        incident.resolved_at = now
        fields.append("resolved_at")
    if status in (Status.ACKNOWLEDGED, Status.IN_PROGRESS) and incident.acknowledged_at is None:
        incident.acknowledged_at = now
        fields.append("acknowledged_at")
    if status == Status.CLOSED:
        incident.closed_at = now
        fields.append("closed_at")
    if source == Status.RESOLVED and status == Status.IN_PROGRESS:
        incident.resolved_at = None  # reopened
        fields.append("resolved_at")
    incident.status = status
    incident.updated_at = now
    incident.save(update_fields=fields)
    signals.status_changed.send(sender=Incident, incident=incident, previous=source)
    _entry(
        incident,
        actor,
        TimelineEntry.Kind.STATUS_CHANGED,
        body=note,
        data={"from": source, "to": status},
        is_public=True,
    )
    events.publish(
        incident, events.STATUS_CHANGED, actor, **{"from": source, "to": status, "note": note}
    )
    return incident


def _shown(value):
    if value is None:
        return None
    if hasattr(value, "get_username"):
        return value.get_username()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "_meta"):
        return str(value)
    return value


@rls.in_tenant
def incident_update(*, organization, actor, incident: Incident, **changes) -> Incident:
    """Changes fields; the matrix re-derives the priority unless it was overridden."""
    return _update(organization, actor, _locked(organization, incident), changes)


def _update(organization, actor, incident: Incident, changes: dict) -> Incident:
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    _check_same_organization(
        organization, **{k: v for k, v in changes.items() if k in ("category", "service", "team")}
    )
    _check_times(occurred_at=changes.get("occurred_at"))
    for field in PEOPLE:
        if field in changes and getattr(incident, f"{field}_id") != getattr(
            changes[field], "pk", None
        ):
            _check_may_work(organization, field, changes[field])
    before = {field: getattr(incident, field) for field in changes}
    before_priority = incident.priority
    changed = [field for field, value in changes.items() if before[field] != value]
    if not changed:
        return incident
    for field in changed:
        setattr(incident, field, changes[field])
    fields = [*changed, "updated_at"]
    if {"impact", "urgency"} & set(changed) and not incident.priority_override_reason:
        incident.priority = priority_for(
            organization=organization, impact=incident.impact, urgency=incident.urgency
        )
        fields.append("priority")
    incident.updated_at = timezone.now()
    if incident.priority != before_priority:
        fields += sla_policy.retarget(incident, incident.updated_at)
    incident.save(update_fields=fields)
    for field in changed:
        kind = TimelineEntry.Kind.ASSIGNED if field in PEOPLE else TimelineEntry.Kind.FIELD_CHANGED
        _entry(
            incident,
            actor,
            kind,
            data={
                "field": field,
                "from": _shown(before[field]),
                "to": _shown(changes[field]),
            },
        )
    changed_from = {field: before[field] for field in changed}
    events.publish_changes(incident, actor, changed_from, priority_before=before_priority)
    return incident


@rls.in_tenant
def incident_override_priority(
    *, organization, actor, incident: Incident, priority: int, reason: str
) -> Incident:
    return _override_priority(actor, _locked(organization, incident), priority, reason)


def _override_priority(actor, incident: Incident, priority: int, reason: str) -> Incident:
    if not reason.strip():
        raise DomainError("Give a reason for overriding the priority.", field="reason")
    before = incident.priority
    incident.priority = priority
    incident.priority_override_reason = reason.strip()
    incident.updated_at = timezone.now()
    fields = ["priority", "priority_override_reason", "updated_at"]
    if priority != before:
        fields += sla_policy.retarget(incident, incident.updated_at)
    incident.save(update_fields=fields)
    _entry(
        incident,
        actor,
        TimelineEntry.Kind.PRIORITY_OVERRIDDEN,
        body=reason.strip(),
        data={"from": before, "to": priority},
    )
    events.publish(
        incident,
        events.PRIORITY_CHANGED,
        actor,
        **{"from": before, "to": priority, "reason": incident.priority_override_reason},
    )
    return incident


@rls.in_tenant
def incident_comment(
    *, organization, actor, incident: Incident, body: str, is_public: bool = False
) -> TimelineEntry:
    if not body.strip():
        raise DomainError("Write something.", field="body")
    incident = _locked(organization, incident)  # its events keep the incident's order
    entry = _entry(incident, actor, TimelineEntry.Kind.COMMENT, body=body, is_public=is_public)
    events.publish(
        incident,
        events.COMMENT_ADDED,
        actor,
        comment={"id": entry.pk, "body": body, "is_public": is_public},
    )
    return entry


@rls.in_tenant
def incident_post_update(*, organization, actor, incident: Incident, body: str) -> TimelineEntry:
    """A public status update for stakeholders."""
    if not body.strip():
        raise DomainError("Write the update.", field="body")
    incident = _locked(organization, incident)
    entry = _entry(incident, actor, TimelineEntry.Kind.STATUS_UPDATE, body=body, is_public=True)
    events.publish(incident, events.UPDATE_POSTED, actor, update={"id": entry.pk, "body": body})
    return entry


@rls.in_tenant
def service_create(*, organization, actor, slug: str, name: str, **fields) -> Service:
    _check_same_organization(organization, team=fields.get("team"))
    if Service.objects.for_org(organization).filter(slug=slug).exists():
        raise Conflict(f"A service with slug {slug!r} exists already.", field="slug")
    service = Service.objects.create(organization=organization, slug=slug, name=name, **fields)
    audit.record(organization=organization, actor=actor, action="service.created", target=service)
    return service


SERVICE_FIELDS = ("slug", "name", "description", "team", "status")


@rls.in_tenant
def service_update(*, organization, actor, service: Service, **changes) -> Service:
    _check_same_organization(organization, team=changes.get("team"))
    conflict = Conflict("A service with that slug exists already.", field="slug")
    return audit.save_changes(
        service, changes, organization=organization, actor=actor, conflict=conflict
    )


@rls.in_tenant
def service_delete(*, organization, actor, service: Service) -> None:
    audit.record(
        organization=organization,
        actor=actor,
        action="service.deleted",
        target=service,
        before=audit.snapshot(service, SERVICE_FIELDS),
    )
    service.delete()


# --- Closure: the reporter confirms or reopens a resolved incident ------------------------

CLOSURE_SALT = "incidents.closure-confirmation"
CLOSURE_LINK_MAX_AGE = timedelta(days=14)
AUTO_CLOSE_DEFAULT_DAYS = 5
AUTO_CLOSE_BATCH = 200


def _check_closer(actor, incident: Incident) -> None:
    """The incident's own reporter (holding confirm_incident), or a responder for them."""
    is_reporter = getattr(actor, "pk", None) is not None and actor.pk == incident.reporter_id
    if is_reporter and actor.has_perm("incidents.confirm_incident", incident):
        return
    if actor is not None and actor.has_perm("incidents.change_incident", incident):
        return
    raise Forbidden("Only the reporter can confirm or reopen this incident.", code="not_reporter")


def _check_resolved(incident: Incident) -> None:
    if incident.status != Status.RESOLVED:
        raise Conflict(
            f"{incident.reference} is {incident.get_status_display().lower()}, not resolved.",
            field="status",
            code="not_resolved",
        )


@rls.in_tenant
def incident_confirm_closure(
    *, organization, actor, incident: Incident, score: int | None = None, comment: str = ""
) -> Incident:
    """The reporter confirms the fix: resolved -> closed, with an optional 1-5 score."""
    if score is not None and (isinstance(score, bool) or score not in range(1, 6)):
        raise DomainError("Give a score from 1 to 5, or none.", field="score")
    _check_closer(actor, incident)
    incident = _locked(organization, incident)
    _check_resolved(incident)
    incident.satisfaction_score = score
    incident.satisfaction_comment = (comment or "").strip()
    incident.save(update_fields=["satisfaction_score", "satisfaction_comment"])
    return _transition(
        actor, incident, Status.CLOSED, note="The reporter confirmed that it is fixed."
    )


@rls.in_tenant
def incident_reopen(*, organization, actor, incident: Incident, reason: str) -> Incident:
    """The reporter says it is still broken: resolved -> in_progress, with the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say what is still broken.", field="reason")
    _check_closer(actor, incident)
    incident = _locked(organization, incident)
    _check_resolved(incident)
    return _transition(actor, incident, Status.IN_PROGRESS, note=reason)


def _resolved_stamp(incident: Incident) -> int | None:
    if incident.resolved_at is None:
        return None
    delta = incident.resolved_at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def closure_token(incident: Incident) -> str:
    """A signed token for the reporter's e-mail: this incident, this resolution, 14 days."""
    payload = {"i": incident.pk, "r": _resolved_stamp(incident), "u": incident.reporter_id}
    return signing.TimestampSigner(salt=CLOSURE_SALT).sign_object(payload, compress=False)


def closure_link(incident: Incident) -> str:
    """The path of the reporter's confirm-or-reopen page for the current resolution."""
    return reverse(
        "incidents:confirm",
        kwargs={
            "org": incident.organization.slug,
            "number": incident.number,
            "token": closure_token(incident),
        },
    )


def closure_token_valid(incident: Incident, token: str) -> bool:
    """True while the incident is resolved by the resolution, for the reporter, it names."""
    try:
        payload = signing.TimestampSigner(salt=CLOSURE_SALT).unsign_object(
            token, max_age=CLOSURE_LINK_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError):
        return False
    return (
        isinstance(payload, dict)
        and incident.status == Status.RESOLVED
        and incident.reporter_id is not None
        and payload.get("i") == incident.pk
        and payload.get("u") == incident.reporter_id
        and payload.get("r") == _resolved_stamp(incident)
    )


def auto_close_resolved(*, organization_id: int) -> int:
    """Closes the organization's incidents resolved longer ago than its setting allows.

    Runs in the tenant's own transactions, a batch at a time; rows another worker holds
    are skipped (SKIP LOCKED) and a closed incident is no longer picked, so a repeated or
    concurrent run closes nothing twice.
    """
    from tenancy.models import Organization

    now, closed = timezone.now(), 0
    while True:
        with rls.tenant_context(organization_id):
            organization = Organization.objects.get(pk=organization_id)
            row = IncidentSettings.objects.for_org(organization).first()
            days = row.auto_close_after_days if row is not None else AUTO_CLOSE_DEFAULT_DAYS
            if days <= 0:
                return closed
            due = list(
                Incident.objects.for_org(organization)
                .filter(status=Status.RESOLVED, resolved_at__lte=now - timedelta(days=days))
                .order_by("resolved_at", "id")
                .select_for_update(skip_locked=True)[:AUTO_CLOSE_BATCH]
            )
            for incident in due:
                _transition(
                    None,
                    incident,
                    Status.CLOSED,
                    note=f"Closed automatically after {days} days without a reply",
                )
            closed += len(due)
        if len(due) < AUTO_CLOSE_BATCH:
            return closed


# --- Attachments ---


def _check_attacher(actor, incident: Incident) -> None:
    """Responders and up; a reporter on an incident they reported."""
    if actor is None or not actor.has_perm("incidents.add_attachment", incident):
        raise Forbidden("You cannot attach files to this incident.", code="forbidden")
    if actor.has_perm("incidents.change_incident", incident):
        return
    if getattr(actor, "pk", None) is None or actor.pk != incident.reporter_id:
        raise Forbidden("Only the reporter can attach files to this incident.", code="forbidden")


@rls.in_tenant
def attachment_quota_check(*, organization, incident: Incident, sizes: list[int]) -> None:
    """DomainError on "file" when files of these sizes would take the incident past its
    quota (a number of files and of bytes)."""
    stored = (
        Attachment.objects.for_org(organization)
        .filter(incident=incident)
        .aggregate(count=Count("id"), total=Sum("size"))
    )
    attachment_rules.check_quota(count=stored["count"], total=stored["total"] or 0, sizes=sizes)


@rls.in_tenant
def attachment_add(*, organization, actor, incident: Incident, upload) -> Attachment:
    """Checks the upload's size and type and the incident's quota, stores it through the
    storage API and notes it on the timeline. A failure after storing removes the stored
    file again. The incident stays locked meanwhile, so concurrent uploads cannot together
    pass the quota."""
    _check_same_organization(organization, incident=incident)
    _check_attacher(actor, incident)
    name, content_type = attachment_rules.check_upload(upload)
    incident = _locked(organization, incident)
    attachment_quota_check(organization=organization, incident=incident, sizes=[upload.size])
    attachment = Attachment(
        organization=organization,
        incident=incident,
        original_name=name,
        content_type=content_type,
        size=upload.size,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    upload.seek(0)
    attachment.file.save(name, upload, save=False)
    try:
        with transaction.atomic():
            attachment.save()
            _entry(
                incident,
                actor,
                TimelineEntry.Kind.ATTACHMENT_ADDED,
                data={"name": name},
                is_public=True,
            )
    except BaseException:
        attachment.file.delete(save=False)
        raise
    return attachment


@rls.in_tenant
def attachment_remove(*, organization, actor, attachment: Attachment) -> None:
    """Responders and up. The file leaves storage once the deletion is committed."""
    _check_same_organization(organization, attachment=attachment)
    if actor is None or not actor.has_perm("incidents.delete_attachment", attachment):
        raise Forbidden("You cannot remove attachments.", code="forbidden")
    incident = attachment.incident
    storage, stored = attachment.file.storage, attachment.file.name
    name = attachment.original_name
    attachment.delete()
    _entry(
        incident,
        actor,
        TimelineEntry.Kind.ATTACHMENT_REMOVED,
        data={"name": name},
        is_public=True,
    )
    transaction.on_commit(lambda: storage.delete(stored))
