import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tenancy import keys
from tenancy.management.commands.seed_demo import PASSWORD
from tenancy.models import ApiKey, Invitation, Membership, Organization, Role, Team
from tests.conftest import log_in

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_organization():
    run("create_organization", "initech", "--name", "Initech", "--timezone", "Europe/Paris")
    org = Organization.objects.get(slug="initech")
    assert (org.name, str(org.timezone)) == ("Initech", "Europe/Paris")


@pytest.mark.parametrize(
    "args",
    [
        ["Bad Slug!", "--name", "X"],
        ["ok", "--name", "X", "--timezone", "Mars/Olympus"],
    ],
)
def test_create_organization_rejects_bad_input(args):
    with pytest.raises(CommandError):
        run("create_organization", *args)
    assert not Organization.objects.exists()


def test_create_organization_twice_fails(org):
    with pytest.raises(CommandError, match="exists"):
        run("create_organization", org.slug, "--name", "Again")


def test_create_user_with_membership(org, client):
    run(
        "create_user",
        "ops",
        "--email",
        "ops@example.com",
        "--org",
        org.slug,
        "--role",
        "responder",
        "--password",
        "a-decent-passphrase",
    )
    membership = Membership.objects.unscoped().get(user__username="ops")
    assert (membership.organization, membership.role) == (org, Role.RESPONDER)
    assert log_in(client, "ops", "a-decent-passphrase")


def test_create_user_rejects_weak_password_and_unknown_org(org):
    with pytest.raises(CommandError, match="password"):
        run("create_user", "weak", "--password", "123")
    with pytest.raises(CommandError, match="No organization"):
        run("create_user", "lost", "--org", "nowhere", "--password", "a-decent-passphrase")


@pytest.mark.parametrize("username", ["<script>x</script>", "spaced user", ""])
def test_create_user_validates_the_username(org, username):
    with pytest.raises(CommandError, match="username"):
        run("create_user", username, "--password", "a-decent-passphrase", "--org", org.slug)
    assert not Membership.objects.for_org(org).exists()


def test_create_user_without_password_needs_a_terminal(org, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="terminal"):
        run("create_user", "silent")


def test_create_api_key_prints_the_key_on_the_last_line(org, api_client_for):
    out, err = run("create_api_key", org.slug, "--name", "Grafana", "--role", "stakeholder")
    raw = out.strip().splitlines()[-1]
    assert keys.is_well_formed(raw)
    api_key = ApiKey.objects.unscoped().get(name="Grafana")
    assert api_key.key_hash == keys.digest(raw)
    assert raw not in err
    response = api_client_for(raw).get(reverse("organization", kwargs={"org": org.slug}))
    assert response.json()["role"] == "stakeholder"


def test_create_api_key_with_expiry(org):
    run("create_api_key", org.slug, "--name", "temp", "--expires-in-days", "7")
    assert ApiKey.objects.unscoped().get(name="temp").expires_at is not None
    with pytest.raises(CommandError):
        run("create_api_key", org.slug, "--name", "bad", "--expires-in-days", "0")
    with pytest.raises(CommandError):
        run("create_api_key", "nowhere", "--name", "lost")


def test_seed_demo_runs_once_and_prints_logins(client):
    out, _ = run("seed_demo")
    assert "alice" in out
    assert PASSWORD in out
    assert Organization.objects.count() == 2
    for role in Role:
        assert Membership.objects.unscoped().filter(organization__slug="acme", role=role).exists()
    assert Team.objects.unscoped().filter(organization__slug="acme").count() >= 3
    assert ApiKey.objects.unscoped().filter(organization__slug="acme").count() == 1
    (invitation,) = Invitation.objects.unscoped().filter(organization__slug="acme")
    assert (invitation.email, invitation.status, invitation.invited_by.username) == (
        "ivy@example.com",
        "pending",
        "alice",
    )
    assert "Pending invitation: ivy@example.com" in out
    assert log_in(client, "carol", PASSWORD)
    again, _ = run("seed_demo")
    assert "exists already" in again
    assert Organization.objects.count() == 2
    assert ApiKey.objects.unscoped().count() == 2
