"""Account protection: lockout after failed logins, strong passwords, security headers."""

import re

import pytest
from django.urls import reverse

from tenancy.models import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(client, username, password, path="login", ip="10.0.0.1"):
    return client.post(reverse(path), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_repeated_failures_lock_the_username_from_that_address(client, member, settings):
    user = member(Role.RESPONDER)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, user.username, "wrong").status_code == 200
    locked = attempt(client, user.username, "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # Even the right password is refused while locked...
    assert attempt(client, user.username, PASSWORD).status_code == 429
    # ...from that address only, and only for that username.
    assert attempt(client, user.username, PASSWORD, ip="10.0.0.2").status_code == 302
    other = member(Role.RESPONDER)
    client.logout()
    assert attempt(client, other.username, PASSWORD).status_code == 302


def test_the_admin_login_is_locked_too(client, member, settings):
    admin = member(Role.ADMIN)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, admin.username, "wrong", path="admin:login")
    assert attempt(client, admin.username, PASSWORD, path="admin:login").status_code == 429


def test_a_success_resets_the_failure_count(client, member, settings):
    user = member()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, user.username, "wrong")
    assert attempt(client, user.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, user.username, "wrong")
    assert attempt(client, user.username, PASSWORD).status_code == 302


@pytest.mark.parametrize("password", ["short-pass1", "123456789012345", "password1234"])
def test_weak_passwords_are_refused(api_client_for, member, org, password):
    client = api_client_for(member(Role.ADMIN))
    response = client.post(
        reverse("member-list", kwargs={"org": org.slug}),
        {"username": "newbie", "password": password},
    )
    assert response.status_code == 400
    assert "password" in response.json()


def test_pages_carry_a_strict_content_security_policy(client_for, member, org):
    client = client_for(member())
    for path in (
        reverse("portal:home", kwargs={"org": org.slug}),
        reverse("api-docs"),
        reverse("admin:login"),
    ):
        response = client.get(path)
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response["Content-Security-Policy"].split(";")
        )
        # Scripts from this origin, or inline only with the response's nonce.
        assert re.fullmatch(r"'self'( 'nonce-[\w+/=-]+')?", policy["script-src"])
        assert "unsafe" not in policy["script-src"]
        assert policy["frame-ancestors"] == "'none'"
        assert policy["default-src"] == "'self'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
