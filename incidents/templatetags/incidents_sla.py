"""The SLA badge of the incident page and the queue: plain text that says it all
("Response due in 2 hours", "Resolution SLA breached", "SLA paused"), no script."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timeuntil

from incidents import sla
from incidents.states import Status

register = template.Library()


def sla_state(incident, now=None) -> tuple[str, str] | None:
    """(css modifier, text) for the incident's SLA, or None when it has none."""
    if incident.response_due_at is None and incident.resolve_due_at is None:
        return None
    now = now or timezone.now()
    if incident.status == Status.CANCELLED:
        return None
    response_late = incident.response_breached or (
        sla.response_running(incident) and now > incident.response_due_at
    )
    resolve_late = incident.resolve_breached or (
        sla.resolve_running(incident) and now > incident.resolve_due_at
    )
    if response_late and resolve_late:
        return "breached", "SLA breached: response and resolution"
    if resolve_late:
        return "breached", "Resolution SLA breached"
    if response_late:
        return "breached", "Response SLA breached"
    if not incident.is_open:
        return "met", "SLA met"
    if sla.response_running(incident):
        return "running", f"Response due in {timeuntil(incident.response_due_at, now, depth=1)}"
    if incident.sla_paused_at is not None:
        return "paused", "SLA paused (on hold)"
    if incident.resolve_due_at is not None:
        return "running", f"Resolution due in {timeuntil(incident.resolve_due_at, now, depth=1)}"
    return None


@register.simple_tag
def sla_badge(incident, empty: str = ""):
    state = sla_state(incident)
    if state is None:
        return empty
    modifier, text = state
    return format_html('<span class="badge sla sla-{}">{}</span>', modifier, text)
