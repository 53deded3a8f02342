"""Outgoing webhooks: created, changed, rotated and deleted by an organization's admins.

The signing secret is made here, stored encrypted and returned once (at creation and at
rotation); a rotation keeps the previous secret signing beside the new one for
:data:`ROTATION_OVERLAP`, so receivers can switch without losing a message.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils.timezone import now

from core.errors import Conflict, DomainError
from notifications import webhooks
from notifications.models import Delivery, Webhook
from tenancy import audit, rls

ROTATION_OVERLAP = timedelta(hours=24)
FIELDS = ("name", "url", "events", "is_active")
MAX_WEBHOOKS = 50


def _check(fields: dict) -> None:
    if "name" in fields and not str(fields["name"] or "").strip():
        raise DomainError("Give the webhook a name.", field="name")
    if "url" in fields:
        parts = urlsplit(str(fields["url"] or ""))
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise DomainError("An http or https address.", field="url")
        if parts.username or parts.password:
            raise DomainError("Put no credentials in the address.", field="url")
    if "events" in fields:
        chosen = fields["events"]
        if not isinstance(chosen, list) or not chosen:
            raise DomainError("Choose at least one event.", field="events")
        unknown = sorted(set(map(str, chosen)) - set(webhooks.EVENTS))
        if unknown:
            raise DomainError(f"Not an event sent: {', '.join(unknown)}.", field="events")
        fields["events"] = sorted(set(chosen))


def _saved(webhook: Webhook, fields: list[str] | None = None) -> Webhook:
    try:
        with transaction.atomic():
            webhook.save(update_fields=fields)
    except IntegrityError as exc:
        raise Conflict("A webhook with that name exists already.", field="name") from exc
    return webhook


def _described(webhook: Webhook) -> dict:
    return audit.snapshot(webhook, FIELDS)


@rls.in_tenant
def webhook_create(
    *, organization, actor, name: str, url: str, events: list, is_active: bool = True
) -> tuple[Webhook, str]:
    """A webhook and its signing secret (shown this once)."""
    fields = {"name": name, "url": url, "events": events}
    _check(fields)
    if Webhook.objects.for_org(organization).count() >= MAX_WEBHOOKS:
        raise Conflict(f"An organization has at most {MAX_WEBHOOKS} webhooks.")
    secret = webhooks.new_secret()
    webhook = Webhook(
        organization=organization,
        secret=secret,
        is_active=is_active,
        created_by=actor if getattr(actor, "pk", None) else None,
        **fields,
    )
    _saved(webhook)
    audit.record(
        organization=organization,
        actor=actor,
        action="webhook.created",
        target=webhook,
        after=_described(webhook),
    )
    return webhook, secret


@rls.in_tenant
def webhook_update(*, organization, actor, webhook: Webhook, **changes) -> Webhook:
    """Changes its name, address, events or whether it is on; turning it on again clears
    why it was turned off."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise DomainError("Not a field of a webhook.", field=sorted(unknown)[0])
    _check(changes)
    if changes.get("is_active"):
        webhook.disabled_reason = ""
    webhook.updated_at = now()
    return audit.save_changes(
        webhook,
        changes,
        organization=organization,
        actor=actor,
        conflict=Conflict("A webhook with that name exists already.", field="name"),
        touched=("disabled_reason", "updated_at"),
    )


@rls.in_tenant
def webhook_rotate_secret(*, organization, actor, webhook: Webhook) -> tuple[Webhook, str]:
    """A new signing secret (shown this once); the old one signs beside it for a day."""
    secret = webhooks.new_secret()
    webhook.previous_secret, webhook.previous_secret_until = (
        webhook.secret,
        now() + ROTATION_OVERLAP,
    )
    webhook.secret, webhook.updated_at = secret, now()
    _saved(webhook, ["secret", "previous_secret", "previous_secret_until", "updated_at"])
    audit.record(
        organization=organization,
        actor=actor,
        action="webhook.secret_rotated",
        target=webhook,
        after={"previous_secret_until": webhook.previous_secret_until.isoformat()},
    )
    return webhook, secret


@rls.in_tenant
def webhook_delete(*, organization, actor, webhook: Webhook) -> None:
    """Its pending deliveries are cancelled; the sent ones stay on their incidents."""
    audit.record(
        organization=organization,
        actor=actor,
        action="webhook.deleted",
        target=webhook,
        before=_described(webhook),
    )
    Delivery.objects.for_org(organization).filter(
        webhook=webhook, status=Delivery.Status.PENDING
    ).update(status=Delivery.Status.CANCELLED, next_attempt_at=None)
    webhook.delete()
