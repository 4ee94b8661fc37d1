"""Each tenant schema is owned by its own PostgreSQL role, and connections in the schema run as it.

So a query naming another tenant's schema outright is refused by PostgreSQL itself, whatever the code
above it does. (SQL that runs RESET ROLE first is not stopped: PostgreSQL checks SET ROLE against the login
role. This guards against code that names the wrong schema; parameterised queries guard against injection.)
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError, ProgrammingError
from django.test import override_settings
from django_tenants.utils import schema_context, tenant_context

from jobs.models import Workset
from tenants.database_roles import tenant_role
from tests.builders import make_tenant

pytestmark = pytest.mark.django_db


def _one(query: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def _refused(query: str) -> str:
    """Run the query in a savepoint and return PostgreSQL's refusal."""
    with pytest.raises(ProgrammingError) as refusal, transaction.atomic():
        _one(query)
    return str(refusal.value)


def _schema_owner(schema: str) -> str:
    return _one("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", [schema])


def _objects_not_owned_by(schema: str, role: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND pg_get_userbyid(c.relowner) <> %s",
            [schema, role],
        )
        return [name for (name,) in cursor.fetchall()]


def test_raw_sql_naming_another_tenants_schema_is_refused_by_postgresql(world):
    with tenant_context(world.tenant):
        assert _one("SELECT current_user") == tenant_role("alpha")
        # its own schema, named outright: the rows the ORM sees
        assert _one("SELECT count(*) FROM alpha.jobs_workset") == Workset.objects.count()
        assert _one("SELECT count(*) FROM public.tenants_membership") > 0  # the shared tables
        assert "permission denied for schema beta" in _refused("SELECT count(*) FROM beta.jobs_workset")
        assert "permission denied" in _refused("DELETE FROM beta.chat_conversation")
    with schema_context("beta"):  # commands and tasks that name only the schema
        assert _one("SELECT current_user") == tenant_role("beta")
        assert "permission denied for schema alpha" in _refused("SELECT count(*) FROM alpha.jobs_workset")
    assert _one("SELECT current_user") == _one("SELECT session_user")  # public schema: the login role


def test_a_request_runs_as_its_tenants_role(world, client_for):
    client = client_for(world.mallory, world.other)  # beta's member on beta's host
    assert client.get("/worksets/").status_code == 200
    assert _one("SELECT current_user") == tenant_role("beta")
    assert "permission denied for schema alpha" in _refused("SELECT count(*) FROM alpha.tenants_auditevent")
    assert client.get("/worksets/", HTTP_HOST="alpha.localhost").status_code == 404


def test_a_rolled_back_role_is_set_again(world):
    with tenant_context(world.tenant):
        _refused("SELECT count(*) FROM beta.jobs_workset")  # the savepoint rollback may revert SET ROLE
        assert _one("SELECT current_user") == tenant_role("alpha")


def test_onboarding_hands_the_new_schema_and_everything_in_it_to_its_own_role(world):
    tenant = make_tenant("roleful")
    role = tenant_role("roleful")
    assert _schema_owner("roleful") == role
    assert _objects_not_owned_by("roleful", role) == []
    with tenant_context(tenant):
        assert _one("SELECT count(*) FROM roleful.jobs_workset") == 0
        assert "permission denied for schema alpha" in _refused("SELECT 1 FROM alpha.jobs_workset")
    with tenant_context(world.tenant):
        assert "permission denied for schema roleful" in _refused("SELECT 1 FROM roleful.jobs_workset")

    tenant.delete()
    assert _one("SELECT count(*) FROM pg_roles WHERE rolname = %s", [role]) == 0


def test_a_tenant_made_before_roles_gets_its_role_at_the_next_migrate(world):
    with override_settings(RUNYARD_TENANT_ROLES=False):
        make_tenant("legacy")
    assert _schema_owner("legacy") == _one("SELECT session_user")
    # its role is missing: refused, never run as the login role instead
    with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic(), schema_context("legacy"):
        _one("SELECT count(*) FROM legacy.jobs_workset")
    call_command("migrate_schemas", schema_name="legacy", interactive=False, stdout=StringIO())
    role = tenant_role("legacy")
    assert _schema_owner("legacy") == role
    assert _objects_not_owned_by("legacy", role) == []
    with schema_context("legacy"):
        assert _one("SELECT current_user") == role
