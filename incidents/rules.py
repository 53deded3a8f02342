"""Who may do what to an incident, each rule written once.

The services ask these rules and refuse (``Forbidden``, a field error); the portal asks
the same rules to decide which forms to show. Roles get their permissions in
:mod:`incidents.roles`; the authentication backend answers them per object, so a rule
here is a question about permissions and the incident, never a list of roles.
"""

from __future__ import annotations

from incidents.roles import WORK_INCIDENTS
from incidents.states import Status
from tenancy.roles import role_has_perm, roles_with_perm


def is_reporter(user, incident) -> bool:
    """The user reported the incident (an API key reports nothing)."""
    return getattr(user, "pk", None) is not None and user.pk == incident.reporter_id


def may_work(user, incident) -> bool:
    """Responders and up: they triage, assign, move and resolve incidents."""
    return user is not None and user.has_perm(WORK_INCIDENTS, incident)


def role_may_work(role: str) -> bool:
    """Whether a member of this role may be an incident's assignee, commander or comms lead."""
    return role_has_perm(role, WORK_INCIDENTS)


def working_roles() -> list[str]:
    """The roles whose members may work incidents."""
    return list(roles_with_perm(WORK_INCIDENTS))


def may_confirm_closure(user, incident) -> bool:
    """Confirm or reopen a resolved incident: its own reporter (holding
    ``confirm_incident``), or a responder on their behalf."""
    if is_reporter(user, incident) and user.has_perm("incidents.confirm_incident", incident):
        return True
    return may_work(user, incident)


def offers_closure(user, incident) -> bool:
    """The confirm-or-reopen forms are offered to the reporter of a resolved incident."""
    from_reporter = is_reporter(user, incident) and may_confirm_closure(user, incident)
    return incident.status == Status.RESOLVED and from_reporter


def attach_refusal(user, incident) -> str | None:
    """Why the user may not attach files to the incident, or None when they may:
    responders and up on any incident, a reporter on an incident they reported."""
    if user is None or not user.has_perm("incidents.add_attachment", incident):
        return "You cannot attach files to this incident."
    if may_work(user, incident) or is_reporter(user, incident):
        return None
    return "Only the reporter can attach files to this incident."


def may_attach(user, incident) -> bool:
    return attach_refusal(user, incident) is None


def may_remove_attachment(user, attachment_or_incident) -> bool:
    """Responders and up."""
    return user is not None and user.has_perm("incidents.delete_attachment", attachment_or_incident)


def satisfaction_visible(user, incident) -> bool:
    """The reporter's satisfaction score and comment: responders and up read them, and the
    reporter their own; stakeholders do not."""
    return may_work(user, incident) or is_reporter(user, incident)
