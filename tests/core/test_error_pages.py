"""Errors no view handled: styled, generic pages in the portal's words for people, JSON for
the API; a refused request logs one line without a traceback."""

from __future__ import annotations

import logging

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import get_resolver, reverse

from incidents import services
from incidents.states import Status
from tenancy.models import Role

pytestmark = pytest.mark.django_db
STYLED = 'href="/static/beacon/beacon.css"'


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.core.urls_errors"


@pytest.fixture
def anonymous():
    client = Client()
    client.raise_request_exception = False
    return client


@pytest.fixture
def signed_in(client_for):
    def make(user):
        client = client_for(user)
        client.raise_request_exception = False
        return client

    return make


def request_log(caplog):
    return [record for record in caplog.records if record.name.startswith("django")]


def test_404_is_the_styled_portal_page(anonymous, signed_in, member, other_org):
    for client, path in [
        (anonymous, "/nowhere/"),
        (signed_in(member(Role.OWNER)), reverse("portal:home", kwargs={"org": other_org.slug})),
    ]:
        response = client.get(path)
        assert response.status_code == 404
        page = response.content.decode()
        assert STYLED in page
        assert "<h1>Page not found</h1>" in page
        assert "No such" not in page  # the exception's text stays inside
    assert "Log out" in page  # the portal's layout, for a signed-in person


def test_403_is_styled_and_logs_one_line_without_traceback(signed_in, member, org, caplog):
    incident = services.incident_create(organization=org, actor=None, title="Down")
    services.incident_transition(
        organization=org, actor=None, incident=incident, status=Status.RESOLVED, resolution="x"
    )
    client = signed_in(member(Role.STAKEHOLDER))
    caplog.set_level(logging.INFO)
    caplog.clear()
    url = reverse("reviews:start", kwargs={"org": org.slug, "number": incident.number})
    response = client.post(url)
    assert response.status_code == 403
    page = response.content.decode()
    assert STYLED in page
    assert "<h1>Not allowed</h1>" in page
    [record] = request_log(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"Forbidden (Permission denied): {url}"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text

    caplog.clear()
    response = client.get("/refuse/")
    assert response.status_code == 403
    assert "secret" not in response.content.decode()
    assert "Traceback" not in caplog.text
    assert len(request_log(caplog)) == 1


def consoles_reached(record: logging.LogRecord) -> int:
    """How many console handlers print the record, walking up as logging does."""
    reached, logger = 0, logging.getLogger(record.name)
    while logger is not None:
        for handler in logger.handlers:
            # pytest's capture handlers are subclasses; the consoles are StreamHandlers.
            if type(handler) is logging.StreamHandler and record.levelno >= handler.level:
                reached += bool(handler.filter(record))
        logger = logger.parent if logger.propagate else None
    return reached


def test_django_records_reach_the_console_once(settings):
    """With DEBUG on, Django's own console handler used to print each record again."""
    settings.DEBUG = True
    record = logging.getLogger("django.request").makeRecord(
        "django.request", logging.WARNING, __file__, 1, "Forbidden: /x/", (), None
    )
    assert consoles_reached(record) == 1


def test_500_is_a_self_contained_styled_page(anonymous, caplog):
    response = anonymous.get("/fail/")
    assert response.status_code == 500
    page = response.content.decode()
    assert STYLED in page
    assert "<h1>Something went wrong</h1>" in page
    assert "secret" not in page
    assert "Traceback" in caplog.text  # a server error keeps its traceback for the operators


def test_500_renders_without_the_database_or_a_request(django_assert_num_queries):
    server_error = get_resolver().resolve_error_handler(500)
    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/anything/"))
        page = render_to_string("500.html")
    assert response.status_code == 500
    assert STYLED in page
    assert "Something went wrong" in response.content.decode()


def test_400_and_the_csrf_failure_are_styled(anonymous, member, caplog):
    response = anonymous.get("/reject/")
    assert response.status_code == 400
    page = response.content.decode()
    assert STYLED in page
    assert "<h1>Bad request</h1>" in page
    assert "secret" not in page

    client = Client(enforce_csrf_checks=True)
    client.force_login(member(Role.OWNER))
    caplog.clear()
    response = client.post(reverse("logout"))
    assert response.status_code == 403
    page = response.content.decode()
    assert STYLED in page
    assert "<h1>The form has expired</h1>" in page
    assert "CSRF" not in page
    assert "Traceback" not in caplog.text


def test_the_api_still_answers_json(anonymous, api_client_for, member, org, other_org):
    response = anonymous.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    response = anonymous.get("/api/v1/fail/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error."}
    response = anonymous.get("/api/v1/refuse/")
    assert response.status_code == 403
    assert "secret" not in response.content.decode()

    client = api_client_for(member(Role.STAKEHOLDER))
    response = client.post(
        reverse("incident-list", kwargs={"org": org.slug}), {"title": "x"}, format="json"
    )
    assert response.status_code == 403
    assert "detail" in response.json()
    response = client.get(reverse("incident-list", kwargs={"org": other_org.slug}))
    assert response.status_code == 404
    assert "detail" in response.json()
