"""Create or update the PostgreSQL roles Beacon's processes connect as.

Run it as a superuser (or as the owner of the database objects, the role that runs
`migrate`, if it may create roles; creating a BYPASSRLS role takes a superuser).

- the app role (`--app-role`): web and workers. It logs in, reads and writes every table,
  owns nothing, is no superuser and cannot bypass row-level security.
- the bypass role (`--bypass-role`, optional): the same rights plus BYPASSRLS, for
  explicitly cross-tenant maintenance only (a job that picks due rows across
  organizations), connected through its own database alias.

Neither role may UPDATE or DELETE the audit log (so organizations are deactivated, not
deleted, by the processes). Default privileges make the tables that later migrations
create (as the role that ran migrate, the owner of ``django_migrations``) usable by both
roles, and every tenant table's row-level security is (re)applied. Idempotent.
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
]
# Default privileges apply to the objects one role creates: the role that runs migrate.
DEFAULT_PRIVILEGES = [
    "ALTER DEFAULT PRIVILEGES FOR ROLE {creator} IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {creator} IN SCHEMA public "
    "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
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
        for creator in _migrating_roles(cursor):
            for statement in DEFAULT_PRIVILEGES:
                cursor.execute(
                    statement.format(creator=connection.ops.quote_name(creator), role=role)
                )
        # The audit log is append-only for the processes too.
        audit_table = connection.ops.quote_name(AUDIT_TABLE)
        cursor.execute(f"REVOKE UPDATE, DELETE ON {audit_table} FROM {role}")


def _migrating_roles(cursor) -> list[str]:
    """The roles whose new tables the app roles must be able to use: the one that ran
    migrate (it owns ``django_migrations``), which later migrations run as too, and the
    one running this command, when it is another (it may run migrate itself)."""
    cursor.execute(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename = 'django_migrations'"
    )
    row = cursor.fetchone()
    cursor.execute("SELECT current_user")
    current = cursor.fetchone()[0]
    return sorted({current} | ({row[0]} if row else set()))


def _literal(cursor, value: str) -> str:
    """A quoted SQL string literal (ALTER ROLE takes no bind parameters)."""
    cursor.execute("SELECT quote_literal(%s)", [value])
    return cursor.fetchone()[0]
