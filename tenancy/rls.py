"""Layer 2 of isolation: PostgreSQL row-level security on every tenant table.

Each table of a :class:`~tenancy.models.TenantModel` gets ``ENABLE`` and ``FORCE ROW LEVEL
SECURITY`` and a policy that lets a row be seen or written only while its organization is
in ``app.organization_id``, a comma-separated list set per transaction with
``set_config(…, true)``. Unset, the policy matches nothing: it fails closed. The tables are
found from the models after every migration, so a new tenant table is born protected.

Narrow, read-only exceptions let the web process find what it needs before it knows the
organization: a user's own memberships (``app.user_id``), the API key whose digest is
being authenticated (``app.api_key_hash``), the invitation whose link is being opened
(``app.invitation_token_hash``), and the alert integration whose key an event was sent
with (``app.integration_key``).

Nothing here does anything on SQLite; layer 1 (scoped querysets) still applies there.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections, transaction

POLICY = "tenant_isolation"
TENANT_SETTING = "app.organization_id"
USER_SETTING = "app.user_id"
API_KEY_SETTING = "app.api_key_hash"
INTEGRATION_KEY_SETTING = "app.integration_key"
INVITATION_TOKEN_SETTING = "app.invitation_token_hash"

_IN_TENANT = (
    "organization_id = ANY (string_to_array("
    f"NULLIF(current_setting('{TENANT_SETTING}', true), ''), ',')::bigint[])"
)
# Extra read-only policies, per table: (name, USING expression).
EXTRA_SELECT_POLICIES = {
    "tenancy_membership": (
        "own_memberships",
        f"user_id = NULLIF(current_setting('{USER_SETTING}', true), '')::bigint",
    ),
    "tenancy_apikey": (
        "authenticating_key",
        f"key_hash = NULLIF(current_setting('{API_KEY_SETTING}', true), '')",
    ),
    "tenancy_invitation": (
        "opening_invitation",
        f"token_hash = NULLIF(current_setting('{INVITATION_TOKEN_SETTING}', true), '')",
    ),
}
# Apps add theirs in AppConfig.ready() with add_select_policy().


def add_select_policy(table: str, name: str, using: str) -> None:
    """One more narrow read-only exception on a tenant table (see the module docstring)."""
    EXTRA_SELECT_POLICIES[table] = (name, using)


def tenant_models():
    from tenancy.models import TenantModel

    return [
        model
        for model in apps.get_models()
        if issubclass(model, TenantModel) and model._meta.managed and not model._meta.proxy
    ]


def tenant_tables() -> list[str]:
    return sorted(model._meta.db_table for model in tenant_models())


def _protected(cursor, tables: list[str]) -> set[str]:
    """Tables that already have both flags and every policy they should have."""
    cursor.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) "
        "AND c.relrowsecurity AND c.relforcerowsecurity "
        "AND EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname "
        "AND p.policyname = %s)",
        [tables, POLICY],
    )
    done = {name for (name,) in cursor.fetchall()}
    cursor.execute(
        "SELECT tablename, policyname FROM pg_policies WHERE tablename = ANY(%s)", [tables]
    )
    policies = set(cursor.fetchall())
    return {
        table
        for table in done
        if table not in EXTRA_SELECT_POLICIES
        or (table, EXTRA_SELECT_POLICIES[table][0]) in policies
    }


def protect_tables(
    tables: Iterable[str], using: str = DEFAULT_DB_ALIAS, *, force: bool = False
) -> None:
    """Enables, forces and creates the policies of tables that lack them; idempotent.

    A table that is protected already is left alone (no ALTER TABLE), unless ``force``
    re-creates its policies, e.g. after the policy expression changed.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    tables = list(tables)
    with connection.cursor() as cursor:
        skip = set() if force else _protected(cursor, tables)
        for table in tables:
            if table in skip:
                continue
            name = quote(table)
            cursor.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
            cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {name}")
            cursor.execute(
                f"CREATE POLICY {POLICY} ON {name} USING ({_IN_TENANT}) WITH CHECK ({_IN_TENANT})"
            )
            if table in EXTRA_SELECT_POLICIES:
                policy, expression = EXTRA_SELECT_POLICIES[table]
                cursor.execute(f"DROP POLICY IF EXISTS {policy} ON {name}")
                cursor.execute(f"CREATE POLICY {policy} ON {name} FOR SELECT USING ({expression})")


def protect_after_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs):
    """post_migrate: protect the tenant tables of the app that was just migrated.

    Only the tables that exist: after migrating backwards some models have none yet (and
    a table renamed back keeps its protection)."""
    from tenancy.models import TenantModel

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    existing = set(connection.introspection.table_names())
    tables = [
        model._meta.db_table
        for model in sender.get_models()
        if issubclass(model, TenantModel) and model._meta.managed and not model._meta.proxy
    ]
    protect_tables([table for table in tables if table in existing], using=using)


def _set(name: str, value: str, using: str) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError(
            f"{name} must be set inside the transaction that runs the queries "
            "(transaction.atomic or ATOMIC_REQUESTS)."
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def set_tenant(organization_ids: Iterable[int], using: str = DEFAULT_DB_ALIAS) -> None:
    """Lets this transaction see and write the rows of these organizations only."""
    _set(TENANT_SETTING, ",".join(str(int(pk)) for pk in organization_ids), using)


def set_user(user_id: int | None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Lets this transaction read the user's own memberships in every organization."""
    _set(USER_SETTING, "" if user_id is None else str(int(user_id)), using)


def set_api_key_hash(key_hash: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Lets this transaction read the one API key with this digest."""
    _set(API_KEY_SETTING, key_hash, using)


def set_invitation_token_hash(token_hash: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Lets this transaction read the one invitation whose link carries this digest."""
    _set(INVITATION_TOKEN_SETTING, token_hash, using)


def set_integration_key(key: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Lets this transaction read the one integration whose key an event was sent with."""
    _set(INTEGRATION_KEY_SETTING, key, using)


_ADD_TENANT = f"""
SELECT set_config('{TENANT_SETTING}', CASE
    WHEN %(id)s = ANY (string_to_array(
        NULLIF(current_setting('{TENANT_SETTING}', true), ''), ',')::bigint[])
    THEN current_setting('{TENANT_SETTING}', true)
    ELSE concat_ws(',', NULLIF(current_setting('{TENANT_SETTING}', true), ''), %(id)s::text)
END, true)
"""


def add_tenant(organization_id: int, using: str = DEFAULT_DB_ALIAS) -> None:
    """Adds one organization to what this transaction may see, keeping the others."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(_ADD_TENANT, {"id": int(organization_id)})


def ensure_transaction(using: str = DEFAULT_DB_ALIAS):
    """A transaction to set the tenant in: the current one, or a new one."""
    if connections[using].in_atomic_block:
        return contextlib.nullcontext()
    return transaction.atomic(using=using)


def in_tenant(service):
    """Runs a service in one transaction that may touch its ``organization``'s rows.

    Services are keyword-only and name the organization, so requests, tasks and
    management commands all reach the database with the tenant set.
    """

    @functools.wraps(service)
    def wrapper(*args, organization, **kwargs):
        with transaction.atomic():
            add_tenant(organization.pk)
            return service(*args, organization=organization, **kwargs)

    return wrapper


@contextlib.contextmanager
def tenant_context(organization_id: int, using: str = DEFAULT_DB_ALIAS):
    """For tasks and scripts: a transaction that sees one organization's rows."""
    with transaction.atomic(using=using):
        set_tenant([organization_id], using=using)
        yield
