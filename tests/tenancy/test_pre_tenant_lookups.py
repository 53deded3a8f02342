"""Lookups made before the tenant is known touch only the table their RLS exception covers.

Row-level security (tenancy/rls.py) lets a transaction without a tenant read a few rows
through narrow exceptions: the user's own memberships, the API key being authenticated,
the integration an event names by its key. Every other tenant table looks empty then, so
a lookup that joins one (a default ordering through a relation, a select_related, a
filter across a relation) finds nothing under the app role, while the superuser the
tests would otherwise connect as sees everything. This checks the SQL itself, so it
holds on SQLite too; tests/alerts/test_app_role.py runs ingestion as the app role.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import services as alert_services
from alerts.models import Integration
from incidents import services as incident_services
from tenancy import rls, selectors, services
from tenancy.backends import roles_of
from tenancy.models import ApiKey, Membership, Role

pytestmark = pytest.mark.django_db


def _lookup_tables(run) -> set[str]:
    """The tenant tables named by the first query `run` sends (the lookup itself; the
    settings it makes with set_config are not queries on tables)."""
    with CaptureQueriesContext(connection) as captured:
        run()
    queries = [q["sql"] for q in captured.captured_queries if "set_config" not in q["sql"]]
    assert queries, "the lookup sent no query"
    lookup = queries[0]
    assert lookup.lstrip().upper().startswith("SELECT"), lookup
    named = set(re.findall(r'"([a-z0-9_]+)"', lookup))
    return named & set(rls.tenant_tables())


def test_the_integration_lookup_reads_the_integration_table_only(org):
    service = incident_services.service_create(organization=org, actor=None, slug="web", name="Web")
    integration = Integration.objects.create(
        organization=org, service=service, kind="generic", name="Prom"
    )

    def run():
        with rls.ensure_transaction():
            assert alert_services.integration_for_key(integration.key) == integration

    assert _lookup_tables(run) == {Integration._meta.db_table}


def test_the_api_key_lookup_reads_the_key_table_only(org, api_key_for):
    raw = api_key_for(Role.RESPONDER)

    def run():
        assert services.api_key_authenticate(raw).organization_id == org.pk

    assert _lookup_tables(run) == {ApiKey._meta.db_table}


@pytest.mark.parametrize(
    "lookup", [lambda user: selectors.memberships_of(user=user), roles_of], ids=["list", "roles"]
)
def test_a_users_memberships_are_read_from_the_membership_table_only(member, org, lookup):
    user = member(Role.RESPONDER)

    assert _lookup_tables(lambda: lookup(user)) == {Membership._meta.db_table}
