import re
import time
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenancy import two_factor
from tenancy.models import AuditEvent, Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def code(device, steps_ahead=0):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return str(totp.token()).zfill(device.digits)


def enrolled(user):
    return TOTPDevice.objects.create(user=user, name="app", confirmed=True)


def login(client, username, token="", path="login"):
    return client.post(
        reverse(path), {"username": username, "password": PASSWORD, "otp_token": token}
    )


@pytest.fixture
def strict_org(org):
    org.require_two_factor = True
    org.save()
    return org


def test_enrolment_shows_a_local_qr_code_and_confirms_with_a_code(client_for, member, org):
    user = member(Role.RESPONDER)
    client = client_for(user)
    page = client.get(reverse("portal:two-factor")).content.decode()
    assert "<svg" in page
    pending = TOTPDevice.objects.get(user=user, confirmed=False)
    assert two_factor.secret_for_manual_entry(pending) in page
    assert "http" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org", ""
    )
    wrong = client.post(reverse("portal:two-factor"), {"action": "enrol", "token": "000000"})
    assert "not valid" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def test_enrolment_turns_it_on_and_is_audited(client_for, member, org, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = member(Role.RESPONDER)
    client = client_for(user)
    client.get(reverse("portal:two-factor"))
    pending = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(
        reverse("portal:two-factor"), {"action": "enrol", "token": code(pending)}
    )
    assert response.status_code == 302
    assert TOTPDevice.objects.get(user=user).confirmed
    assert (
        AuditEvent.objects.for_org(org)
        .filter(action="auth.two_factor_enabled", actor=user)
        .exists()
    )


def test_login_then_needs_the_code(client, member, org, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = member(Role.RESPONDER)
    device = enrolled(user)
    missing = login(client, user.username)
    assert missing.status_code == 200
    assert "the code from your authenticator app" in missing.content.decode()
    wrong = login(client, user.username, "123456")
    assert wrong.status_code == 200
    failed = AuditEvent.objects.for_org(org).filter(action="auth.login_failed")
    assert failed.count() == 2
    assert login(client, user.username, code(device)).status_code == 302
    session_user = client.get(reverse("portal:home", kwargs={"org": org.slug})).wsgi_request.user
    assert session_user.is_verified()


def _page(response) -> str:
    """The page without what differs between any two responses (CSRF token, CSP nonce)."""
    page = response.content.decode()
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)
    return re.sub(r'nonce="[^"]*"', "", page)


@pytest.mark.parametrize("path", ["login", "admin:login"])
def test_the_right_password_without_the_code_answers_like_a_wrong_password(
    client, member, org, settings, path
):
    """Nothing tells the right password from a wrong one unless the code is right: not
    the status, the page, the cost (one password hash each) nor the lockout count."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = member(Role.ADMIN)
    enrolled(user)
    hashed = []
    verify = MD5PasswordHasher.verify

    def counting_verify(hasher, password, encoded):
        hashed.append(password)
        return verify(hasher, password, encoded)

    attempts = {
        "wrong password": {"password": "not-the-password-1", "otp_token": ""},
        "wrong password and a code": {"password": "not-the-password-1", "otp_token": "123456"},
        "right password, no code": {"password": PASSWORD, "otp_token": ""},
        "right password, wrong code": {"password": PASSWORD, "otp_token": "123456"},
    }
    answers = {}
    with mock.patch.object(MD5PasswordHasher, "verify", counting_verify):
        for name, fields in attempts.items():
            hashed.clear()
            response = client.post(reverse(path), {"username": user.username, **fields})
            answers[name] = (response.status_code, _page(response), len(hashed))
    # Compared with the wrong password given the same fields (a page may echo the code).
    for wrong, right in [
        ("wrong password", "right password, no code"),
        ("wrong password and a code", "right password, wrong code"),
    ]:
        status, page, hashes = answers[wrong]
        assert (status, hashes) == (200, 1)
        assert "authenticator app" in page
        assert answers[right] == answers[wrong], right
    failed = AuditEvent.objects.for_org(org).filter(action="auth.login_failed")
    assert failed.count() == len(attempts)
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == len(attempts)


@pytest.mark.parametrize("token", ["", "111111"])
def test_the_right_password_without_a_valid_code_counts_towards_the_lockout(
    client, member, settings, token
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = member()
    device = enrolled(user)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, user.username, token).status_code == 200
    assert login(client, user.username, token).status_code == 429  # the last one allowed
    assert login(client, user.username, code(device)).status_code == 429


def test_wrong_codes_count_towards_the_lockout(client, member, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = member()
    device = enrolled(user)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, user.username, "111111")
    assert login(client, user.username, code(device)).status_code == 429


def test_required_two_factor_sends_owners_and_admins_to_enrol(client_for, member, strict_org):
    for role in (Role.OWNER, Role.ADMIN):
        client = client_for(member(role))
        home = reverse("portal:home", kwargs={"org": strict_org.slug})
        response = client.get(home)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:two-factor"))
        admin = client.get(reverse("admin:index"))
        assert admin.status_code == 302
        assert admin["Location"].startswith(reverse("portal:two-factor"))


def test_required_two_factor_does_not_touch_other_roles_or_keys(
    client_for, api_client_for, api_key_for, member, strict_org
):
    home = reverse("portal:home", kwargs={"org": strict_org.slug})
    assert client_for(member(Role.RESPONDER)).get(home).status_code == 200
    url = reverse("organization", kwargs={"org": strict_org.slug})
    assert api_client_for(api_key_for(Role.OWNER)).get(url).status_code == 200


def test_required_two_factor_refuses_unverified_api_sessions(api_client_for, member, strict_org):
    response = api_client_for(member(Role.OWNER)).get(
        reverse("organization", kwargs={"org": strict_org.slug})
    )
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]


def test_a_verified_login_reaches_the_strict_organization(client, member, strict_org):
    owner = member(Role.OWNER)
    device = enrolled(owner)
    assert login(client, owner.username, code(device)).status_code == 302
    assert client.get(reverse("portal:home", kwargs={"org": strict_org.slug})).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200


def test_enrolling_mid_session_continues_where_the_user_was_going(
    client_for, member, strict_org, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    owner = member(Role.OWNER)
    client = client_for(owner)
    home = reverse("portal:home", kwargs={"org": strict_org.slug})
    client.get(f"{reverse('portal:two-factor')}?next={home}")
    pending = TOTPDevice.objects.get(user=owner, confirmed=False)
    response = client.post(
        reverse("portal:two-factor"), {"action": "enrol", "token": code(pending), "next": home}
    )
    assert response["Location"] == home
    assert client.get(home).status_code == 200


def test_the_admin_login_asks_for_the_code(client, member, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    admin = member(Role.ADMIN)
    device = enrolled(admin)
    page = client.get(reverse("admin:login")).content.decode()
    assert 'name="otp_token"' in page
    refused = login(client, admin.username, path="admin:login")
    assert refused.status_code == 200
    assert "authenticator app" in refused.content.decode()
    assert login(client, admin.username, code(device), path="admin:login").status_code == 302


def test_turning_it_off_needs_a_code_and_is_audited(client, member, org, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = member(Role.RESPONDER)
    device = enrolled(user)
    login(client, user.username, code(device))
    refused = client.post(reverse("portal:two-factor"), {"action": "disable", "token": "000000"})
    assert refused.status_code == 200
    assert TOTPDevice.objects.filter(user=user).exists()
    client.post(reverse("portal:two-factor"), {"action": "disable", "token": code(device, 1)})
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.for_org(org).filter(action="auth.two_factor_disabled").exists()


def test_unsafe_next_targets_are_ignored(client_for, member, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = member()
    client = client_for(user)
    client.get(reverse("portal:two-factor"))
    pending = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(
        reverse("portal:two-factor"),
        {"action": "enrol", "token": code(pending), "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("portal:two-factor")


def test_the_superusers_first_admin_visit_explains_the_two_factor_step(
    client_for, make_user, strict_org
):
    root = make_user("root", is_superuser=True, is_staff=True)
    client = client_for(root)
    response = client.get(reverse("admin:index"))
    assert response["Location"].startswith(reverse("portal:two-factor"))
    page = client.get(response["Location"]).content.decode()
    assert "requires two-factor authentication" in page
    assert "Scan this code" in page
