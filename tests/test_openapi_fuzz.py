"""The whole OpenAPI schema, fuzzed: no operation answers a server error.

Schemathesis reads the schema ``/api/schema/`` serves and, for every operation, sends
valid and invalid data (JSON, form and multipart bodies, query strings, NUL bytes, huge
numbers, nulls where a value is required) with a real API key of the organization. The
organization has one of everything, and the path parameters name those rows, so detail
routes reach existing objects instead of answering 404 to random identifiers.

Requests go through Django's test handler, in the test's own database connection and
transaction; each example runs in a savepoint that is rolled back, so a ``DELETE`` does not
starve the examples after it. The budget is bounded and derandomized: the same 2,600 or so
requests on every machine, about two minutes of one core on SQLite or PostgreSQL.
"""

from __future__ import annotations

import json
import sys
import traceback

import hypothesis
import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import got_request_exception
from django.db import transaction
from django.test.client import ClientHandler
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.views import SpectacularAPIView
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error

from alerts import services as alert_services
from incidents import services as incident_services
from reviews import services as review_services
from tenancy import services
from tenancy.models import AuditEvent, Role

pytestmark = pytest.mark.django_db


class DjangoWSGI:
    """Django as a WSGI app the way its test client runs it: in the caller's connection and
    transaction (no connection is closed between requests), with exceptions still turned
    into error responses by Django, as in production."""

    def __init__(self):
        self.handler = ClientHandler(enforce_csrf_checks=True)

    def __call__(self, environ, start_response):
        response = self.handler(environ)
        headers = list(response.items())
        headers += [
            ("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values()
        ]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        if response.streaming:
            return response.streaming_content
        return [response.content]


def _config(*, examples: int, coverage: bool) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",  # valid and invalid data
                "max-examples": examples,
                "deterministic": True,  # the same cases on every run and machine
                "no-shrink": True,  # a failure is reported as found, at once
                "database": "none",
            },
            "phases": {
                # Every missing, null, wrongly typed or out-of-range field in turn, for JSON,
                # form and multipart bodies; valid data comes from the fuzzing phase.
                "coverage": {"enabled": coverage, "generation": {"mode": "negative"}},
                "stateful": {"enabled": False},
            },
        }
    )


def _served_schema() -> dict:
    """What ``/api/schema/`` serves. Generated here, not requested: a request opens a
    transaction, and the database is out of reach while tests are collected."""
    generator = SpectacularAPIView.generator_class()
    return json.loads(OpenApiJsonRenderer().render(generator.get_schema(request=None, public=True)))


APP = DjangoWSGI()
# The owner reaches every operation's deepest code: fuzzed and covered. Another role mostly
# meets refusals, which are cheap to fuzz.
OWNER_SCHEMA = schemathesis.openapi.from_dict(
    _served_schema(), config=_config(examples=10, coverage=True)
)
REPORTER_SCHEMA = schemathesis.openapi.from_dict(
    _served_schema(), config=_config(examples=5, coverage=False)
)
# Every example runs in a savepoint rolled back after it, so the organization that the
# function-scoped fixtures build is the same for each one.
FIXTURES_ARE_RESET = hypothesis.settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def world(org, member, api_key_for, settings, tmp_path):
    """One of everything in ``org``, and the path parameters that name it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    owner = member(Role.OWNER, username="olivia")
    responder = member(Role.RESPONDER, username="rhea")
    team = services.team_create(organization=org, actor=owner, slug="payments", name="Payments")
    services.team_member_add(organization=org, actor=owner, team=team, user=responder)
    service = incident_services.service_create(
        organization=org, actor=owner, slug="checkout", name="Checkout", team=team
    )
    integration = alert_services.integration_create(
        organization=org, actor=owner, service=service, kind="generic", name="Monitoring"
    )
    incident = incident_services.incident_create(
        organization=org, actor=owner, title="Checkout is down", service=service, team=team
    )
    incident_services.incident_transition(
        organization=org, actor=owner, incident=incident, status="resolved", resolution="Fixed."
    )
    review = review_services.review_create(organization=org, actor=owner, incident=incident)
    item = review_services.action_item_create(
        organization=org, actor=owner, review=review, title="Add an alert", owner=responder
    )
    attachment = incident_services.attachment_add(
        organization=org,
        actor=owner,
        incident=incident,
        upload=SimpleUploadedFile("notes.txt", b"What we saw", content_type="text/plain"),
    )
    event = AuditEvent.objects.for_org(org).latest("id")
    return {
        "keys": {role: api_key_for(role) for role in (Role.OWNER, Role.REPORTER)},
        "path": {
            "org": org.slug,
            "number": incident.number,
            "attachment_id": attachment.pk,
            "username": responder.username,
            "review": review.pk,
            "item": item.pk,
            "service": service.slug,
            "slug": team.slug,  # /services/{slug}/ is handled below
            "integration": integration.pk,
            "team": team.slug,
            "id": event.pk,
        },
        "service": service.slug,
    }


@pytest.fixture
def server_errors():
    """The tracebacks of the exceptions Django turned into a 500, for the failure message."""
    caught = []

    def record(sender, request, **kwargs):
        caught.append("".join(traceback.format_exception(*sys.exc_info())))

    got_request_exception.connect(record)
    yield caught
    got_request_exception.disconnect(record)


def _point_at_world(case, world):
    """Valid path parameters name the organization's rows; invalid ones stay as generated,
    inside the organization, to probe the lookups."""
    path = dict(world["path"])
    if case.path.startswith("/api/v1/orgs/{org}/services/{slug}"):
        path["slug"] = world["service"]
    if case.meta is not None and case.meta.is_negative_at("path"):
        path = {"org": path["org"]}
    case.path_parameters = {
        name: path.get(name, value) for name, value in (case.path_parameters or {}).items()
    }


def _call(case, world, role, server_errors):
    _point_at_world(case, world)
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {world['keys'][role]}"}
    with transaction.atomic():
        try:
            case.call_and_validate(app=APP, checks=[not_a_server_error])
        except Exception as exc:
            for tb in server_errors:
                exc.add_note(tb)
            raise
        finally:
            server_errors.clear()
            transaction.set_rollback(True)


@OWNER_SCHEMA.parametrize()
@FIXTURES_ARE_RESET
def test_no_operation_answers_a_server_error_to_an_owner(case, world, server_errors):
    _call(case, world, Role.OWNER, server_errors)


@REPORTER_SCHEMA.parametrize()
@FIXTURES_ARE_RESET
def test_no_operation_answers_a_server_error_to_a_reporter(case, world, server_errors):
    _call(case, world, Role.REPORTER, server_errors)
