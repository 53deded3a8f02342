"""Fixtures shared by every test: organizations, members with roles, API clients.

Tests that need PostgreSQL, Redis or a browser carry a marker. They skip when the service
is not configured here, and fail instead when BEACON_REQUIRE_SERVICES=1 (CI), so nothing
is skipped in CI.

On PostgreSQL the suite runs the way web and workers run in production: the owner creates
and migrates the test database and runs ``setup_database_roles``, then every test connects
as the app role it made (no owner, no superuser, no BYPASSRLS), so row-level security and
the role's grants apply to everything a test does. A test that needs the owner (creating
roles, reading the catalog as its owner, migrating) says so with ``@pytest.mark.db_owner``;
flushing the tables after a transactional test also runs as the owner.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shutil

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from rest_framework.test import APIClient

from tenancy import services
from tenancy.models import Role

User = get_user_model()
PASSWORD = "a-long-test-password-1"
_counter = itertools.count(1)


def _service_missing(marker: str) -> str | None:
    missing = {
        "postgres": settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql"
        and "DATABASE_URL does not point at PostgreSQL",
        "redis": not settings.CELERY_BROKER_URL.startswith("redis")
        and "CELERY_BROKER_URL does not point at Redis",
        "browser": shutil.which("chromium") is None and "Debian's chromium is not installed",
    }
    return missing[marker] or None


class _DatabaseRole:
    """Which PostgreSQL role the tests' connections log in as: the app role, or the owner."""

    def __init__(self):
        self.owner: str | None = None
        self.app: str | None = None  # set once the test database exists and is granted
        self.wanted_owner = False

    @property
    def settings_dict(self):
        return connections[DEFAULT_DB_ALIAS].settings_dict

    def apply(self):
        if self.app is None:
            return
        user = self.owner if self.wanted_owner else self.app
        if self.settings_dict["USER"] != user:
            connections.close_all()
            self.settings_dict["USER"] = user

    @contextlib.contextmanager
    def as_owner(self):
        """Outside any transaction only: it reconnects."""
        wanted, self.wanted_owner = self.wanted_owner, True
        self.apply()
        try:
            yield
        finally:
            self.wanted_owner = wanted
            self.apply()


database_role = _DatabaseRole()


def _is_postgres() -> bool:
    return settings.DATABASES[DEFAULT_DB_ALIAS]["ENGINE"] == "django.db.backends.postgresql"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The owner migrates the test database and sets up the roles; tests then run as the app."""
    if not _is_postgres():
        yield
        return
    from django.test import TransactionTestCase

    owner_teardown = TransactionTestCase._fixture_teardown

    def fixture_teardown(self):  # TRUNCATE is the owner's, as on a real deployment
        with database_role.as_owner():
            owner_teardown(self)

    database_role.owner = database_role.settings_dict["USER"]
    app_role = f"{database_role.settings_dict['NAME']}_app"[:63]
    with django_db_blocker.unblock():
        call_command("setup_database_roles", "--app-role", app_role, stdout=io.StringIO())
    TransactionTestCase._fixture_teardown = fixture_teardown
    database_role.app = app_role
    database_role.apply()
    try:
        yield
    finally:
        TransactionTestCase._fixture_teardown = owner_teardown
        database_role.wanted_owner = True
        database_role.apply()
        database_role.app = None


def pytest_runtest_setup(item):
    database_role.wanted_owner = item.get_closest_marker("db_owner") is not None
    database_role.apply()
    required = os.environ.get("BEACON_REQUIRE_SERVICES") == "1"
    for name in ("postgres", "redis", "browser"):
        if item.get_closest_marker(name) is None:
            continue
        reason = _service_missing(name)
        if reason is not None:
            if required:
                pytest.fail(f"{reason}, and BEACON_REQUIRE_SERVICES=1 forbids skipping")
            pytest.skip(reason)


@pytest.fixture
def make_org(db):
    def make(slug: str | None = None, name: str | None = None):
        slug = slug or f"org{next(_counter)}"
        return services.organization_create(slug=slug, name=name or slug.title())

    return make


@pytest.fixture
def org(make_org):
    return make_org("acme", "Acme")


@pytest.fixture
def other_org(make_org):
    return make_org("globex", "Globex")


@pytest.fixture
def make_user(db):
    def make(username: str | None = None, **extra):
        username = username or f"user{next(_counter)}"
        return services.user_create(
            username=username, email=f"{username}@example.com", password=PASSWORD, **extra
        )

    return make


@pytest.fixture
def member(make_user, org):
    """member(role, organization=org) -> a new user holding that role there."""

    def make(role: str = Role.RESPONDER, organization=None, username: str | None = None):
        user = make_user(username)
        services.membership_create(
            organization=organization or org, actor=None, user=user, role=role
        )
        return user

    return make


@pytest.fixture(params=["admin of both", "superuser"])
def operator(request, member, make_user, org, other_org):
    """Someone whose admin spans Acme and Globex: an admin of both, or a superuser."""
    if request.param == "superuser":
        return make_user("root", is_superuser=True, is_staff=True)
    user = member(Role.ADMIN, username="both")
    services.membership_create(organization=other_org, actor=None, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def api_key_for(org):
    """api_key_for(role, organization=org) -> the raw key."""

    def make(role: str = Role.RESPONDER, organization=None, **kwargs):
        _, raw = services.api_key_create(
            organization=organization or org, actor=None, name="test", role=role, **kwargs
        )
        return raw

    return make


@pytest.fixture
def api_client_for():
    """api_client_for(user_or_raw_key) -> an APIClient acting as that principal."""

    def make(principal=None):
        client = APIClient()
        if isinstance(principal, str):
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {principal}")
        elif principal is not None:
            client.force_login(principal)
        return client

    return make


@pytest.fixture
def client_for(client):
    """client_for(user) -> Django's test client logged in as the user (portal and admin)."""

    def make(user):
        client.logout()
        client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _test_settings(settings, monkeypatch):
    """Fast password hashing, static files served without a collectstatic manifest, and
    tasks run in the caller, errors raised (tests of the real worker turn that off)."""
    from config.celery import app as celery_app

    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", True)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def see(*organizations) -> None:
    """Lets the test's transaction read these organizations' rows (PostgreSQL, app role).

    A request or a task sets the tenant to its own organization only, as in production, so
    a test that afterwards checks what happened to several organizations' rows says which.
    """
    from tenancy import rls

    rls.set_tenant([organization.pk for organization in organizations])


def log_in(client, username: str, password: str) -> bool:
    """Logs in through the login page, as a person (and the lockout) would."""
    from django.urls import reverse

    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302
