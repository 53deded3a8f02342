"""``Idempotency-Key`` for creating POSTs: a retried request does its work once.

The first request with a key records it as *in flight* in its own short transaction, so a
concurrent duplicate sees it (and answers 409) instead of doing the work again. The
response is stored in the request's own transaction, so it commits together with what it
describes; a repeat with the same key and body within 24 hours replays it with the header
``Idempotent-Replayed: true``. The same key with another body answers 422. A request that
fails (an exception, a 5xx) forgets its key, so the client may retry it. On PostgreSQL the
in-flight claim names the request's transaction; when that transaction rolled back after the
view returned (a middleware error, a failed commit) the key is taken over at once instead of
answering 409 until the claim is abandoned.

Keys are per organization and per principal ("user:<id>" or "key:<api key id>").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from incidents.models import IdempotencyKey
from tenancy import rls
from tenancy.backends import ApiKeyUser

HEADER = "HTTP_IDEMPOTENCY_KEY"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
TTL = timedelta(hours=24)
# An in-flight key older than this belongs to a request that died without cleaning up
# (no request runs this long); it is taken over rather than blocking the key for 24 h.
IN_FLIGHT_ABANDONED_AFTER = timedelta(minutes=10)

_TABLE = IdempotencyKey._meta.db_table


def principal_of(user) -> str:
    if isinstance(user, ApiKeyUser):
        return f"key:{user.api_key.pk}"
    return f"user:{user.pk}"


def request_hash(request) -> str:
    """sha256 of the method, the path and the body as canonical JSON."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict from a form or multipart body
        data = {key: values for key, values in data.lists()}
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def _in_request_transaction(connection) -> bool:
    """True inside a real outer transaction (ATOMIC_REQUESTS) that has not committed yet.

    A test's wrapping transaction does not count: a second connection would not see the
    test's rows, so there the key is written in a savepoint of the same connection.
    """
    if not connection.in_atomic_block or connection.vendor != "postgresql":
        return False
    return not any(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


@contextlib.contextmanager
def _own_transaction(organization_id: int):
    """A cursor in a transaction of its own that commits on leaving."""
    default = connections[DEFAULT_DB_ALIAS]
    if not _in_request_transaction(default):
        with transaction.atomic(), default.cursor() as cursor:
            rls.add_tenant(organization_id)
            yield default, cursor
        return
    # Inside the request's transaction: a short-lived second connection commits the key
    # now, where concurrent requests see it.
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        other.ensure_connection()
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT set_config(%s, %s, true)", [rls.TENANT_SETTING, str(int(organization_id))]
            )
            yield other, cursor
        other.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            other.rollback()
        raise
    finally:
        other.close()


# Raw SQL, so the same statements run on a second connection (see _own_transaction). The
# interpolated names are constants; every value is a parameter.
_WHERE = 'organization_id = %s AND principal = %s AND "key" = %s'
_DELETE_STALE = (
    f"DELETE FROM {_TABLE} WHERE {_WHERE} AND (created_at < %s "  # noqa: S608
    "OR (status = %s AND created_at < %s))"
)
# PostgreSQL only: an in-flight claim whose request transaction aborted is stale too.
_DELETE_ABORTED = (
    f"DELETE FROM {_TABLE} WHERE {_WHERE} AND status = %s "  # noqa: S608
    "AND owner_transaction IS NOT NULL AND txid_status(owner_transaction) = 'aborted'"
)
_INSERT = (
    f'INSERT INTO {_TABLE} (organization_id, principal, "key", request_hash, status, '  # noqa: S608
    "owner_transaction, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
_SELECT = f"SELECT id, status, request_hash FROM {_TABLE} WHERE {_WHERE}"  # noqa: S608
_DELETE = f"DELETE FROM {_TABLE} WHERE id = %s"  # noqa: S608


def _begin(organization_id: int, principal: str, key: str, digest: str):
    """Claims the key: (True, row) when this request is first, else (False, existing row)."""
    now = timezone.now()
    scope = [organization_id, principal, key]
    owner = _request_transaction_id()
    in_flight = IdempotencyKey.State.IN_FLIGHT
    with _own_transaction(organization_id) as (connection, cursor):
        adapt = connection.ops.adapt_datetimefield_value
        stale = [adapt(now - TTL), in_flight]
        cursor.execute(_DELETE_STALE, [*scope, *stale, adapt(now - IN_FLIGHT_ABANDONED_AFTER)])
        if connection.vendor == "postgresql":
            cursor.execute(_DELETE_ABORTED, [*scope, in_flight])
        cursor.execute(_INSERT, [*scope, digest, in_flight, owner, adapt(now)])
        inserted = cursor.rowcount == 1
        cursor.execute(_SELECT, scope)
        row = cursor.fetchone()
    return inserted, row


def _request_transaction_id() -> int | None:
    """The id of the request's own PostgreSQL transaction, when the claim is made beside it."""
    default = connections[DEFAULT_DB_ALIAS]
    if not _in_request_transaction(default):
        return None  # the claim commits or rolls back with the work itself
    with default.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        return cursor.fetchone()[0]


def _forget(organization_id: int, pk: int) -> None:
    with _own_transaction(organization_id) as (_, cursor):
        cursor.execute(_DELETE, [pk])


def _error(code: int, field: str, message: str) -> Response:
    return Response({field: [message]}, status=code)


def idempotent(request, organization, handler: Callable[[], Response]) -> Response:
    """Runs ``handler`` once per Idempotency-Key (when the request carries one)."""
    key = request.META.get(HEADER)
    if key is None:
        return handler()
    if not key.strip() or len(key) > KEY_MAX_LENGTH:
        return _error(
            status.HTTP_400_BAD_REQUEST,
            "idempotency_key",
            f"The Idempotency-Key header must be 1 to {KEY_MAX_LENGTH} characters.",
        )
    digest = request_hash(request)
    inserted, row = _begin(organization.pk, principal_of(request.user), key, digest)
    if row is None:  # taken over and finished between our statements: very unlikely
        return _error(status.HTTP_409_CONFLICT, "idempotency_key", "Retry the request.")
    pk, state, stored_digest = row
    if not inserted:
        if stored_digest != digest:
            return _error(
                status.HTTP_422_UNPROCESSABLE_ENTITY,
                "idempotency_key",
                "This Idempotency-Key was used for a different request; use a new key for "
                "a new request.",
            )
        if state == IdempotencyKey.State.IN_FLIGHT:
            response = _error(
                status.HTTP_409_CONFLICT,
                "idempotency_key",
                "A request with this Idempotency-Key is still in progress; retry shortly.",
            )
            response["Retry-After"] = "1"
            return response
        stored = IdempotencyKey.objects.for_org(organization).get(pk=pk)
        return Response(
            stored.response_body,
            status=stored.response_status,
            headers={REPLAYED_HEADER: "true"},
        )
    try:
        response = handler()
    except BaseException:
        _forget(organization.pk, pk)
        raise
    if response.status_code >= 500:
        _forget(organization.pk, pk)
        return response
    # In the request's transaction: the stored response commits with the change itself.
    IdempotencyKey.objects.for_org(organization).filter(pk=pk).update(
        status=IdempotencyKey.State.DONE,
        response_status=response.status_code,
        response_body=response.data,
    )
    return response
