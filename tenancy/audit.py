"""Recording security-relevant actions: who did what to which object, from where.

Services call :func:`record` in the transaction of the change they make, so the entry
exists exactly when the change does. The client address comes from the request being
served (see :class:`AuditContextMiddleware`); tasks and commands record none.
"""

from __future__ import annotations

import contextvars
from typing import Any

from axes.helpers import get_client_ip_address
from django.db import IntegrityError, models, transaction

from core.errors import Conflict
from tenancy import rls
from tenancy.models import AuditEvent

_client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _client_ip.set(get_client_ip_address(request))
        try:
            return self.get_response(request)
        finally:
            _client_ip.reset(token)


def actor_label(actor) -> str:
    if actor is None:
        return "system"
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return f"API key {api_key.name} ({api_key.prefix}…)"
    return actor.get_username()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, models.Model):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def record(
    *,
    organization,
    actor,
    action: str,
    target: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    label: str | None = None,
) -> AuditEvent:
    """Appends an entry; ``label`` names an actor who is not a user (a failed login)."""
    with rls.ensure_transaction():  # the tenant setting lives as long as its transaction
        rls.add_tenant(organization.pk)
        return AuditEvent.objects.create(
            organization=organization,
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label=(label or actor_label(actor))[:200],
            ip_address=_client_ip.get(),
            action=action,
            target_type=target._meta.model_name if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            target_label=str(target)[:200] if target is not None else "",
            before=_jsonable(before or {}),
            after=_jsonable(after or {}),
        )


def snapshot(obj: models.Model, fields) -> dict:
    return {field: getattr(obj, field) for field in fields}


def save_changes(
    obj,
    changes: dict,
    *,
    organization,
    actor,
    conflict: Conflict | None = None,
    touched: tuple[str, ...] = (),
):
    """Sets ``changes`` on ``obj``, saves those fields and records "<model>.updated" with
    their values before and after. With ``conflict``, a unique constraint the save breaks
    raises it instead (the save runs in a savepoint, so the transaction goes on).
    ``touched`` names fields the caller set already (``updated_at``): saved, not recorded."""
    before = snapshot(obj, changes)
    for field, value in changes.items():
        setattr(obj, field, value)
    fields = [*changes, *touched]
    if conflict is None:
        obj.save(update_fields=fields)
    else:
        try:
            with transaction.atomic():
                obj.save(update_fields=fields)
        except IntegrityError as exc:
            raise conflict from exc
    record(
        organization=organization,
        actor=actor,
        action=f"{obj._meta.model_name}.updated",
        target=obj,
        before=before,
        after=snapshot(obj, changes),
    )
    return obj
