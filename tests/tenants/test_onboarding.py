from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from tenants.models import Domain, Membership, Tenant
from tenants.schema_template import expected_migrations, refresh_template, template_is_current
from tests.builders import make_tenant

pytestmark = pytest.mark.django_db


def _applied(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')  # noqa: S608 - test schema names
        return set(cursor.fetchall())


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_onboarding_clones_an_isolated_migrated_schema(world):
    assert template_is_current()
    tenant = make_tenant("gamma")
    assert schema_exists("gamma")
    assert expected_migrations() <= _applied("gamma")
    assert _tables("gamma") == _tables("tenant_template")
    assert Domain.objects.get(tenant=tenant).domain == "gamma.localhost"
    assert Membership.objects.get(tenant=tenant).role == "owner"
    with schema_context("gamma"):
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.create(app_label="probe", model="only_in_gamma")
    with schema_context("alpha"):
        assert not ContentType.objects.filter(app_label="probe").exists()


def test_a_stale_template_falls_back_to_migrations(world):
    with connection.cursor() as cursor:
        cursor.execute('DELETE FROM "tenant_template".django_migrations WHERE app = %s', ["contenttypes"])
    assert not template_is_current()
    make_tenant("delta")
    assert expected_migrations() <= _applied("delta")
    refresh_template()
    assert template_is_current()


@pytest.mark.parametrize(
    ("slug", "field"),
    [("Bad Slug", "slug"), ("ab", "slug"), ("www", "slug"), ("alpha", "slug"), ("fine-name", "name")],
)
def test_bad_onboarding_input_is_refused_and_nothing_is_written(world, slug, field):
    before = Tenant.objects.count()
    with pytest.raises(ValidationError) as error:
        from tenants.services import onboard_tenant

        onboard_tenant("" if field == "name" else "Name", slug=slug, owner_email="o@example.com")
    assert field in error.value.message_dict
    assert Tenant.objects.count() == before


def test_a_bad_owner_email_rolls_the_schema_back(world):
    from tenants.services import onboard_tenant

    with pytest.raises(ValidationError):
        onboard_tenant("Epsilon", slug="epsilon", owner_email="not-an-email")
    assert not Tenant.objects.filter(slug="epsilon").exists()
    assert not schema_exists("epsilon")


def test_the_tenant_command_creates_and_suspends(world):
    out = StringIO()
    call_command("tenant", "create", "zeta", name="Zeta", owner="z@example.com", stdout=out)
    assert "Created zeta at http://zeta.localhost:8000/" in out.getvalue()
    call_command("tenant", "suspend", "zeta", stdout=out)
    assert Tenant.objects.get(slug="zeta").status == "suspended"


def test_operators_onboard_in_the_admin(operator_client):
    client = operator_client
    response = client.post(
        "/admin/tenants/tenant/add/", {"name": "Theta", "slug": "theta", "owner_email": "theta@example.com"}
    )
    assert response.status_code == 302
    assert Tenant.objects.filter(slug="theta").exists()
    listing = client.get("/admin/tenants/tenant/")
    assert "theta" in listing.content.decode()
