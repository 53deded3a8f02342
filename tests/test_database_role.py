"""On PostgreSQL the suite connects as the app role, the way web and workers run."""

import pytest
from django.db import connection

pytestmark = pytest.mark.postgres

ROLE = """
SELECT current_user, r.rolsuper, r.rolbypassrls, r.rolcreaterole,
       EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user)
FROM pg_roles r WHERE r.rolname = current_user
"""


def current_role():
    with connection.cursor() as cursor:
        cursor.execute(ROLE)
        name, superuser, bypass, create_role, owns_tables = cursor.fetchone()
    return name, (superuser, bypass, create_role, owns_tables)


@pytest.mark.django_db
def test_tests_connect_as_the_app_role():
    name, powers = current_role()
    assert name.endswith("_app")
    assert powers == (False, False, False, False)


@pytest.mark.django_db(transaction=True)
def test_transactional_tests_connect_as_the_app_role_too():
    name, powers = current_role()
    assert name.endswith("_app")
    assert powers == (False, False, False, False)


@pytest.mark.django_db
@pytest.mark.db_owner
def test_a_test_marked_db_owner_connects_as_the_owner():
    name, (superuser, _, _, owns_tables) = current_role()
    assert not name.endswith("_app")
    assert owns_tables or superuser
