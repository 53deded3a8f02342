"""Closure: the reporter confirms or reopens a resolved incident (on its page or through
a signed link from an e-mail), and resolved incidents nobody answered close by themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict, DomainError, Forbidden
from incidents import rules
from incidents.models import Incident, IncidentSettings
from incidents.services.base import lock_incident
from incidents.services.lifecycle import transition_locked
from incidents.states import Status
from tenancy import rls
from tenancy.models import Organization

CLOSURE_SALT = "incidents.closure-confirmation"
CLOSURE_LINK_MAX_AGE = timedelta(days=14)
AUTO_CLOSE_DEFAULT_DAYS = 5
AUTO_CLOSE_BATCH = 200


def _check_closer(actor, incident: Incident) -> None:
    """The incident's own reporter (holding confirm_incident), or a responder for them."""
    if not rules.may_confirm_closure(actor, incident):
        raise Forbidden(
            "Only the reporter can confirm or reopen this incident.", code="not_reporter"
        )


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
    incident = lock_incident(organization, incident)
    _check_resolved(incident)
    incident.satisfaction_score = score
    incident.satisfaction_comment = (comment or "").strip()
    incident.save(update_fields=["satisfaction_score", "satisfaction_comment"])
    return transition_locked(
        actor, incident, Status.CLOSED, note="The reporter confirmed that it is fixed."
    )


@rls.in_tenant
def incident_reopen(*, organization, actor, incident: Incident, reason: str) -> Incident:
    """The reporter says it is still broken: resolved -> in_progress, with the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say what is still broken.", field="reason")
    _check_closer(actor, incident)
    incident = lock_incident(organization, incident)
    _check_resolved(incident)
    return transition_locked(actor, incident, Status.IN_PROGRESS, note=reason)


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
                transition_locked(
                    None,
                    incident,
                    Status.CLOSED,
                    note=f"Closed automatically after {days} days without a reply",
                )
            closed += len(due)
        if len(due) < AUTO_CLOSE_BATCH:
            return closed
