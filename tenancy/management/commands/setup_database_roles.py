"""Create or update the PostgreSQL roles Beacon's processes connect as.

Run it as the owner of the database objects (the role that runs `migrate`), with the
right to create roles; creating a BYPASSRLS role takes a superuser.

- the app role (`--app-role`): web and workers. It logs in, reads and writes every table,
  owns nothing, is no superuser and cannot bypass row-level security.
- the bypass role (`--bypass-role`, optional): the same rights plus BYPASSRLS, for
  explicitly cross-tenant maintenance only (a job that picks due rows across
  organizations), connected through its own database alias.

Neither role may UPDATE or DELETE the audit log (so organizations are deactivated, not
deleted, by the processes). Default privileges make tables that later
migrations create readable by both roles, and every tenant table's row-level security is
(re)applied. Idempotent.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from tenancy import rls
from tenancy.models import AuditEvent

AUDIT_TABLE = AuditEvent._meta.db_table

PRIVILEGES = [
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
]


class Command(BaseCommand):
    help = "Create the PostgreSQL app role (and optionally the bypass role) and grant them."

    def add_arguments(self, parser):
        parser.add_argument("--app-role", required=True)
        parser.add_argument("--app-password", help="Sets the password (LOGIN role).")
        parser.add_argument("--bypass-role")
        parser.add_argument("--bypass-password")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, app_role, app_password, bypass_role, bypass_password, database, **_):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError("Database roles and row-level security need PostgreSQL.")
        with transaction.atomic(using=database), connection.cursor() as cursor:
            self._role(cursor, connection, app_role, app_password, bypass=False)
            if bypass_role:
                self._role(cursor, connection, bypass_role, bypass_password, bypass=True)
            rls.protect_tables(rls.tenant_tables(), using=database)
        self.stdout.write(
            f"Granted {app_role}" + (f" and {bypass_role}" if bypass_role else "") + "."
        )

    def _role(self, cursor, connection, name, password, *, bypass):
        role = connection.ops.quote_name(name)
        attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE " + (
            "BYPASSRLS" if bypass else "NOBYPASSRLS"
        )
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        cursor.execute(f"{verb} ROLE {role} {attributes}")
        if password:
            cursor.execute(f"ALTER ROLE {role} PASSWORD {_literal(cursor, password)}")
        cursor.execute("SELECT current_database()")
        database = connection.ops.quote_name(cursor.fetchone()[0])
        cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
        for statement in PRIVILEGES:
            cursor.execute(statement.format(role=role))
        # The audit log is append-only for the processes too.
        audit_table = connection.ops.quote_name(AUDIT_TABLE)
        cursor.execute(f"REVOKE UPDATE, DELETE ON {audit_table} FROM {role}")


def _literal(cursor, value: str) -> str:
    """A quoted SQL string literal (ALTER ROLE takes no bind parameters)."""
    cursor.execute("SELECT quote_literal(%s)", [value])
    return cursor.fetchone()[0]
