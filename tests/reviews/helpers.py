"""What the review tests share: URLs and a resolved incident to review."""

from __future__ import annotations

import re

from django.urls import reverse

from incidents import services
from incidents.states import Status
from reviews import services as review_services
from tenancy.models import Role

RESPONDERS = [Role.OWNER, Role.ADMIN, Role.RESPONDER]
LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC — .+ — .+")


def api(org, name="review-list", **kwargs):
    return reverse(name, kwargs={"org": org.slug, **kwargs})


def portal(org, name, **kwargs):
    return reverse(f"reviews:{name}", kwargs={"org": org.slug, **kwargs})


def resolved(org, actor=None, title="Checkout is down", **fields):
    incident = services.incident_create(organization=org, actor=actor, title=title, **fields)
    return services.incident_transition(
        organization=org,
        actor=actor,
        incident=incident,
        status=Status.RESOLVED,
        resolution="Rolled back the release.",
    )


def review_of(org, actor=None, **fields):
    return review_services.review_create(
        organization=org, actor=actor, incident=resolved(org, **fields)
    )


def incident_page(org, incident):
    return reverse("incidents:detail", kwargs={"org": org.slug, "number": incident.number})
