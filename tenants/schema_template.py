"""The empty template schema that new tenants are cloned from.

django-tenants clones ``TENANT_BASE_SCHEMA`` (tables, sequences, indexes and any rows, which is
why the template stays empty) and fake-applies the migrations. A clone is only right while the
template carries every tenant migration, so ``template_is_current`` guards it and onboarding
falls back to running migrations when it is stale. ``refresh_template`` rebuilds it; ``runyard
migrate`` and ``runyard demo`` call it after migrating.
"""

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_exists


def template_schema() -> str:
    return settings.TENANT_BASE_SCHEMA


def _tenant_app_labels() -> set[str]:
    from django.apps import apps

    return {apps.get_app_config(name.rsplit(".", 1)[-1]).label for name in settings.TENANT_APPS}


def expected_migrations() -> set[tuple[str, str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    labels = _tenant_app_labels()
    return {key for key in loader.disk_migrations if key[0] in labels}


def applied_in_template() -> set[tuple[str, str]]:
    name = template_schema()
    if not schema_exists(name):
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{name}".django_migrations'])
        if cursor.fetchone()[0] is None:
            return set()
        cursor.execute(f'SELECT app, name FROM "{name}".django_migrations')  # noqa: S608 - name from settings
        return set(cursor.fetchall())


def template_is_current() -> bool:
    expected = expected_migrations()
    return bool(expected) and expected <= applied_in_template()


def refresh_template(verbosity: int = 0) -> None:
    """Drop and rebuild the template schema by running every tenant migration in it."""
    name = template_schema()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command("migrate_schemas", schema_name=name, tenant=True, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()
