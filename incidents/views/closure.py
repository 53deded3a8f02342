"""Closure in the portal: the reporter confirms or reopens a resolved incident on its
page, or through the signed link of an e-mail without logging in."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from incidents import services
from incidents.forms import ConfirmClosureForm, ReopenForm
from incidents.models import Incident
from incidents.views.page import done, render_detail
from tenancy import rls
from tenancy.models import Organization


def _closure(request, incident, *, actor, organization, on_error):
    """Runs the reporter's confirm or reopen form; returns (message, None) or (None, response)."""
    if request.POST.get("action") == "confirm":
        form, key = ConfirmClosureForm(request.POST), "confirm"
    else:
        form, key = ReopenForm(request.POST), "reopen"
    if not form.is_valid():
        return None, on_error(form, key, "Please check the form.", 400)
    try:
        if key == "confirm":
            changed = services.incident_confirm_closure(
                organization=organization,
                actor=actor,
                incident=incident,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
            )
            message = f"Thank you: {changed.reference} is closed."
        else:
            changed = services.incident_reopen(
                organization=organization,
                actor=actor,
                incident=incident,
                reason=form.cleaned_data["reason"],
            )
            message = f"{changed.reference} is reopened; the responders will look at it again."
    except DomainError as exc:
        return None, on_error(form, key, exc.message, exc.status_code)
    return message, None


def confirm_or_reopen(request, incident):
    """The confirm or reopen form posted on the incident page."""

    def on_error(form, key, error, status):
        return render_detail(request, incident, bound={key: form}, error=error, status=status)

    message, response = _closure(
        request,
        incident,
        actor=request.user,
        organization=request.organization,
        on_error=on_error,
    )
    return response or done(request, incident, message)


@sensitive_variables("token")
@never_cache
@require_http_methods(["GET", "POST"])
def closure_confirm(request, org: str, number: int, token: str):
    """Confirm or reopen from the e-mail link, without logging in: the signed token (this
    incident, this resolution, its reporter, 14 days) is the authorization."""
    organization = Organization.objects.active().filter(slug=org).first()
    if organization is None:
        return _link_invalid(request)
    with transaction.atomic():
        rls.set_tenant([organization.pk])
        incidents = (
            Incident.objects.for_org(organization)
            .select_related("reporter", "organization")
            .filter(number=number)
        )
        if request.method == "POST":
            # Checked and acted on under one lock: a resolution that lands between the two
            # cannot be confirmed by a link made for an earlier one.
            incidents = incidents.select_for_update(of=("self",))
        incident = incidents.first()
        if incident is None or not services.closure_token_valid(incident, token):
            return _link_invalid(request)
        context = {"incident": incident, "closure_action": request.path}
        if request.method == "POST":

            def on_error(form, key, error, status):
                forms = {"confirm": ConfirmClosureForm(), "reopen": ReopenForm(), key: form}
                return render(
                    request,
                    "incidents/confirm.html",
                    {
                        **context,
                        "confirm_form": forms["confirm"],
                        "reopen_form": forms["reopen"],
                        "error": error,
                    },
                    status=status,
                )

            message, response = _closure(
                request,
                incident,
                actor=incident.reporter,
                organization=organization,
                on_error=on_error,
            )
            if response is not None:
                return response
            return render(request, "incidents/confirm.html", {**context, "done": message})
        return render(
            request,
            "incidents/confirm.html",
            {**context, "confirm_form": ConfirmClosureForm(), "reopen_form": ReopenForm()},
        )


def _link_invalid(request):
    return render(request, "incidents/confirm.html", {"invalid": True}, status=400)
