from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from tenancy import keys, roles, services
from tenancy.backends import ApiKeyUser
from tenancy.models import ApiKey, Role, Team

pytestmark = pytest.mark.django_db


def test_every_granted_permission_is_a_real_django_permission():
    existing = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    assert roles.all_granted_perms() <= existing


@pytest.mark.parametrize(
    ("role", "may_manage_teams", "may_manage_owners", "may_manage_keys"),
    [
        (Role.OWNER, True, True, True),
        (Role.ADMIN, True, False, True),
        (Role.RESPONDER, False, False, False),
        (Role.REPORTER, False, False, False),
        (Role.STAKEHOLDER, False, False, False),
    ],
)
def test_role_matrix_for_users_and_keys(
    member, api_key_for, org, other_org, role, may_manage_teams, may_manage_owners, may_manage_keys
):
    user = member(role)
    key_user = ApiKeyUser(ApiKey.objects.unscoped().get(key_hash=keys.digest(api_key_for(role))))
    team = Team.objects.create(organization=org, slug="t", name="T")
    foreign_team = Team.objects.create(organization=other_org, slug="t", name="T")
    for principal in (user, key_user):
        assert principal.has_perm("tenancy.view_team", team)
        assert principal.has_perm("tenancy.change_team", team) is may_manage_teams
        assert principal.has_perm("tenancy.manage_owners", org) is may_manage_owners
        assert principal.has_perm("tenancy.add_apikey", org) is may_manage_keys
        # Nothing at all in another organization, whatever the role.
        assert not principal.has_perm("tenancy.view_team", foreign_team)
        assert not principal.has_perm("tenancy.view_organization", other_org)


def test_role_in_one_organization_grants_nothing_in_another(member, org, other_org):
    user = member(Role.OWNER)
    services.membership_create(organization=other_org, actor=None, user=user, role=Role.REPORTER)
    assert user.has_perm("tenancy.change_organization", org)
    assert not user.has_perm("tenancy.change_organization", other_org)


def test_key_format_checksum_and_hash(org):
    api_key, raw = services.api_key_create(organization=org, actor=None, name="k")
    assert raw.startswith("bcn_")
    assert keys.is_well_formed(raw)
    assert api_key.prefix == raw[:12]
    assert api_key.key_hash == keys.digest(raw)
    assert raw not in {getattr(api_key, f.attname) for f in ApiKey._meta.fields}
    tampered = raw[:-7] + ("A" if raw[-7] != "A" else "B") + raw[-6:]
    assert not keys.is_well_formed(tampered)
    assert services.api_key_authenticate(tampered) is None


def test_expired_and_revoked_keys_are_refused(org, api_client_for):
    url = reverse("organization", kwargs={"org": org.slug})
    _, expired_raw = services.api_key_create(
        organization=org, actor=None, name="old", expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert api_client_for(expired_raw).get(url).status_code == 401
    live, raw = services.api_key_create(organization=org, actor=None, name="live")
    assert api_client_for(raw).get(url).status_code == 200
    services.api_key_revoke(organization=org, actor=None, api_key=live)
    assert api_client_for(raw).get(url).status_code == 401


def test_key_of_a_deactivated_organization_is_refused(org, api_key_for, api_client_for):
    raw = api_key_for(Role.OWNER)
    org.is_active = False
    org.save()
    assert (
        api_client_for(raw).get(reverse("organization", kwargs={"org": org.slug})).status_code
        == 401
    )


def test_last_used_is_recorded_at_most_once_a_minute(org, api_key_for, api_client_for):
    raw = api_key_for()
    client = api_client_for(raw)
    url = reverse("organization", kwargs={"org": org.slug})
    client.get(url)
    api_key = ApiKey.objects.unscoped().get(key_hash=keys.digest(raw))
    first = api_key.last_used_at
    assert first is not None
    client.get(url)
    api_key.refresh_from_db()
    assert api_key.last_used_at == first
    ApiKey.objects.unscoped().filter(pk=api_key.pk).update(
        last_used_at=first - timedelta(minutes=5)
    )
    client.get(url)
    api_key.refresh_from_db()
    assert api_key.last_used_at > first - timedelta(minutes=5)


def test_only_owners_create_owner_keys(member, org):
    from core.errors import Forbidden

    with pytest.raises(Forbidden):
        services.api_key_create(
            organization=org, actor=member(Role.ADMIN), name="x", role=Role.OWNER
        )
    api_key, _ = services.api_key_create(
        organization=org, actor=member(Role.OWNER), name="x", role=Role.OWNER
    )
    assert api_key.role == Role.OWNER
