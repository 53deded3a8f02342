"""API keys: issued, revoked, and authenticated by their hash.

Each function is keyword-only, names the organization and the actor, and runs in one
transaction. ``actor=None`` means the system (a management command).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from tenancy import audit, keys, rls
from tenancy.models import (
    ApiKey,
    Role,
)
from tenancy.services.members import _check_role_grant

User = get_user_model()

LAST_USED_PRECISION_SECONDS = 60


@rls.in_tenant
def api_key_create(
    *,
    organization,
    actor,
    name: str,
    role: str = Role.RESPONDER,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Creates a key and returns it with the raw secret, which is never stored."""
    api_key = ApiKey(organization=organization, name=name, role=role, expires_at=expires_at)
    return api_key, api_key_issue(organization=organization, actor=actor, api_key=api_key)


@rls.in_tenant
def api_key_issue(*, organization, actor, api_key: ApiKey) -> str:
    """Gives an unsaved key its secret, saves it and returns the secret, shown only once."""
    _check_role_grant(organization=organization, actor=actor, role=api_key.role)
    raw = keys.generate()
    api_key.organization = organization
    api_key.prefix = keys.shown_prefix(raw)
    api_key.key_hash = keys.digest(raw)
    api_key.created_by = actor if getattr(actor, "pk", None) else None
    api_key.save()
    audit.record(
        organization=organization,
        actor=actor,
        action="api_key.created",
        target=api_key,
        after=audit.snapshot(api_key, ["name", "role", "prefix", "expires_at"]),
    )
    return raw


@rls.in_tenant
def api_key_revoke(*, organization, actor, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit.record(
            organization=organization, actor=actor, action="api_key.revoked", target=api_key
        )
    return api_key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The usable key for ``raw``, or None. Records use at most once a minute."""
    if not keys.is_well_formed(raw):
        return None
    digest = keys.digest(raw)
    with rls.ensure_transaction():
        rls.set_api_key_hash(digest)
        api_key = (
            ApiKey.objects.unscoped()  # the key names its organization; nothing else can yet
            .usable()
            .select_related("organization")
            .filter(key_hash=digest, organization__is_active=True)
            .first()
        )
        if api_key is None:
            return None
        rls.set_tenant([api_key.organization_id])
        now = timezone.now()
        last = api_key.last_used_at
        if last is None or (now - last).total_seconds() > LAST_USED_PRECISION_SECONDS:
            ApiKey.objects.for_org(api_key.organization_id).filter(pk=api_key.pk).update(
                last_used_at=now
            )
            api_key.last_used_at = now
    return api_key
