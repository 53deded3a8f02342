"""The incident page as it renders: what the member sees and which forms they get. The
actions on the page (and the attachment and closure views) render it again with their
bound form and error."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from incidents import rules
from incidents.forms import (
    AssignmentForm,
    AttachmentForm,
    CommentForm,
    ConfirmClosureForm,
    ReopenForm,
    StatusUpdateForm,
)
from incidents.panels import incident_panels
from incidents.selectors import attachments_of, incident_workers
from incidents.states import Status, allowed_targets
from incidents.views.common import poll_seconds, teams_of, timeline_entries
from tenancy.models import Role

VERBS = {
    Status.ACKNOWLEDGED: "Acknowledge",
    Status.IN_PROGRESS: "Start work",
    Status.ON_HOLD: "Put on hold",
    Status.RESOLVED: "Resolve",
    Status.CLOSED: "Close",
    Status.CANCELLED: "Cancel incident",
}


def render_detail(request, incident, *, bound=None, error: str = "", status: int = 200):
    """The incident page; ``bound`` holds the forms a failed action sends back, by name."""
    organization = request.organization
    user = request.user
    bound = bound or {}
    can_change = rules.may_work(user, incident)
    entries = timeline_entries(request, incident)
    context = {
        "incident": incident,
        "entries": entries,
        "last_entry": max((entry.id for entry in entries), default=0),
        "show_visibility": request.role not in (Role.REPORTER, Role.STAKEHOLDER),
        "can_comment": user.has_perm("incidents.comment_incident", incident),
        "can_post_update": user.has_perm("incidents.post_update_incident", incident),
        "can_change": can_change,
        "comment_is_always_public": request.role == Role.REPORTER,
        "comment_form": bound.get("comment") or CommentForm(),
        "update_form": bound.get("post_update") or StatusUpdateForm(),
        "transition_form": bound.get("transition"),
        "error": error,
        "back_url": reverse(
            "incidents:mine" if request.role == Role.REPORTER else "incidents:queue",
            kwargs={"org": organization.slug},
        ),
        "poll_seconds": poll_seconds(),
        "shows_satisfaction": (
            incident.satisfaction_score is not None or bool(incident.satisfaction_comment)
        )
        and rules.satisfaction_visible(user, incident),
        "attachments": attachments_of(organization=organization, incident=incident),
        "can_attach": rules.may_attach(user, incident),
        "can_remove_attachments": rules.may_remove_attachment(user, incident),
        "attachment_form": bound.get("attach") or AttachmentForm(),
        "incident_panels": incident_panels(request, incident),
    }
    if rules.offers_closure(user, incident):
        context["confirm_form"] = bound.get("confirm") or ConfirmClosureForm()
        context["reopen_form"] = bound.get("reopen") or ReopenForm()
    if can_change:
        context["transitions"] = [
            {
                "status": target,
                "label": Status(target).label,
                "verb": "Reopen"
                if incident.status == Status.RESOLVED and target == Status.IN_PROGRESS
                else VERBS[target],
            }
            for target in allowed_targets(incident.status)
        ]
        context["assignment_form"] = bound.get("assign") or AssignmentForm(
            incident=incident,
            members=incident_workers(organization=organization),
            teams=teams_of(organization),
        )
    return render(request, "incidents/detail.html", context, status=status)


def done(request, incident, message: str, anchor: str = ""):
    """Back to the incident page (at ``anchor``) with a success message."""
    messages.success(request, message)
    url = reverse(
        "incidents:detail",
        kwargs={"org": request.organization.slug, "number": incident.number},
    )
    return redirect(url + anchor)
