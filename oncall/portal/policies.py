"""Escalation policies in the portal: the list with the services and teams that use each,
and a policy's page with its steps and the preview of whom it would page, when, from a
moment the viewer picks (now by default), resolved through the schedules."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from oncall import preview
from oncall.bounds import validate_in_range
from oncall.models import EscalationPolicy, ServicePolicy, Step, StepTarget, TeamPolicy
from tenancy.access import org_member_required


class PreviewForm(forms.Form):
    at = forms.DateTimeField(
        label="If an incident started at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        validators=[validate_in_range],
    )


def _policies(request):
    if not request.user.has_perm("oncall.view_escalationpolicy", request.organization):
        raise PermissionDenied
    organization = request.organization
    targets = StepTarget.objects.select_related("user", "team", "schedule").order_by("position")
    steps = Step.objects.order_by("position").prefetch_related(
        Prefetch("targets", queryset=targets)
    )
    return EscalationPolicy.objects.for_org(organization).prefetch_related(
        Prefetch("steps", queryset=steps)
    )


def _users_of(organization) -> tuple[dict, dict]:
    """policy id -> the services and the teams that use it (two queries)."""
    services, teams = {}, {}
    for link in ServicePolicy.objects.for_org(organization).select_related("service"):
        services.setdefault(link.policy_id, []).append(link.service)
    for link in TeamPolicy.objects.for_org(organization).select_related("team"):
        teams.setdefault(link.policy_id, []).append(link.team)
    return services, teams


@org_member_required
@require_GET
def policy_list(request):
    policies = list(_policies(request))
    services, teams = _users_of(request.organization)
    rows = [(p, services.get(p.pk, []), teams.get(p.pk, [])) for p in policies]
    return render(request, "oncall/policy_list.html", {"rows": rows})


@org_member_required
@require_GET
def policy_detail(request, policy: int):
    policy = get_object_or_404(_policies(request), pk=policy)
    form = PreviewForm(request.GET or None)
    at = timezone.now()
    if form.is_bound and form.is_valid() and form.cleaned_data["at"]:
        at = form.cleaned_data["at"]
    services, teams = _users_of(request.organization)
    return render(
        request,
        "oncall/policy_detail.html",
        {
            "policy": policy,
            "form": form,
            "at": at,
            "entries": preview.timeline(organization=request.organization, policy=policy, at=at),
            "services": services.get(policy.pk, []),
            "teams": teams.get(policy.pk, []),
        },
    )
