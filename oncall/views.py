"""The one-click acknowledgement link of a page's e-mail.

GET shows what will be acknowledged and a button; only the POST acknowledges (mail
scanners open links). The signed token is the authorization, so the recipient needs no
login; someone else logged in who opens it is refused, so a forwarded link does not
acknowledge in another person's name while they watch."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from oncall.models import Page
from oncall.services import links, pages
from tenancy import rls
from tenancy.models import Organization

TEMPLATE = "oncall/acknowledge.html"


@sensitive_variables("token")
@never_cache
@require_http_methods(["GET", "POST"])
def page_acknowledge_link(request, org: str, page: int, token: str):
    organization = Organization.objects.active().filter(slug=org).first()
    if organization is None:
        return render(request, TEMPLATE, {"invalid": True}, status=400)
    with transaction.atomic():
        rls.set_tenant([organization.pk])
        found = (
            Page.objects.for_org(organization)
            .select_related("recipient", "incident")
            .filter(pk=page)
            .first()
        )
        if found is None or not links.page_token_valid(found, token):
            return render(request, TEMPLATE, {"invalid": True}, status=400)
        if request.user.is_authenticated and request.user.pk != found.recipient_id:
            return render(request, TEMPLATE, {"not_yours": True, "page": found}, status=403)
        context = {"page": found, "incident": found.incident, "action": request.path}
        if request.method == "GET":
            return render(request, TEMPLATE, context)
        try:
            pages.page_acknowledge(organization=organization, actor=found.recipient, page=found)
        except DomainError as exc:
            return render(request, TEMPLATE, {**context, "error": exc.message}, status=409)
        return render(request, TEMPLATE, {**context, "done": True})
