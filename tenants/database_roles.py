"""One PostgreSQL role per tenant schema: it owns the schema, and connections in that schema run as it.

``<database>_tenant_<schema>`` owns the tenant's schema and may read and write its tables; as a member of
``<database>_tenants`` it may also read and write the public schema's tables (users, memberships, the audit
log), which every tenant's pages use. It has no privilege on any other tenant's schema, so a query naming
one is refused by PostgreSQL (portal.postgresql_backend switches to the role). Names carry the database's
name because roles are shared by every database of a PostgreSQL server.

The login role creates the roles and must be a superuser or have CREATEROLE (docs/deploy.md); it runs this
module's functions in the public schema. Each migration of a tenant schema first makes sure of its role
(tenants.signals), so a tenant made before roles existed gets its role at the next migrate; the public
schema's migrations re-grant its tables to the group.
"""

import hashlib

from django.conf import settings
from django.db import connection
from psycopg import sql

MAX_NAME = 63  # PostgreSQL's identifier length


def _named(database: str, suffix: str) -> str:
    name = f"{database}_{suffix}"
    if len(name) > MAX_NAME:
        name = f"ry{hashlib.sha256(database.encode()).hexdigest()[:10]}_{suffix}"
    return name


def tenant_role(schema: str, database: str | None = None) -> str:
    return _named(database or connection.settings_dict["NAME"], f"tenant_{schema}")


def tenants_group(database: str | None = None) -> str:
    return _named(database or connection.settings_dict["NAME"], "tenants")


def enabled() -> bool:
    return settings.RUNYARD_TENANT_ROLES


def is_tenant_schema(schema: str) -> bool:
    """Not the public schema (the shared tables) nor the template that tenants are cloned from."""
    from django_tenants.utils import get_public_schema_name

    return schema not in (get_public_schema_name(), settings.TENANT_BASE_SCHEMA)


def _run(cursor, statement: str, **names: str) -> None:
    """Run a statement whose {placeholders} are identifiers (quoted by psycopg)."""
    identifiers = {key: sql.Identifier(value) for key, value in names.items()}
    cursor.execute(sql.SQL(statement).format(**identifiers).as_string(None))


def _create_role(cursor, role: str) -> None:
    """CREATE ROLE unless it exists (roles outlive a dropped database, e.g. a test database)."""
    _run(
        cursor,
        "DO $$ BEGIN CREATE ROLE {role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        role=role,
    )


def ensure_shared_grants() -> None:
    """The group every tenant role belongs to: data rights on the public schema's tables, now and later
    (and REFERENCES: tenant tables have foreign keys to users)."""
    if not enabled():
        return
    group = tenants_group()
    with connection.cursor() as cursor:
        _create_role(cursor, group)
        for statement in (
            "GRANT USAGE ON SCHEMA public TO {group}",
            "GRANT SELECT, INSERT, UPDATE, DELETE, REFERENCES ON ALL TABLES IN SCHEMA public TO {group}",
            "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {group}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
            " GRANT SELECT, INSERT, UPDATE, DELETE, REFERENCES ON TABLES TO {group}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {group}",
        ):
            _run(cursor, statement, group=group)


def ensure_tenant_role(schema: str) -> None:
    """Create the tenant's role if needed and give it the schema and everything in it.

    Run before each migration of the schema (tenants.signals), so migrations run as the owner too; a schema
    cloned from the template arrives owned by the login role and is handed over here."""
    if not enabled() or not is_tenant_schema(schema):
        return
    ensure_shared_grants()
    role = tenant_role(schema)
    with connection.cursor() as cursor:
        _create_role(cursor, role)
        _run(cursor, "GRANT {group} TO {role}", group=tenants_group(), role=role)
        # The login role must be a member to SET ROLE to it (a superuser needs no grant; it does no harm).
        _run(cursor, "GRANT {role} TO CURRENT_USER", role=role)
        _run(cursor, "ALTER SCHEMA {schema} OWNER TO {role}", schema=schema, role=role)
        # Tables (their indexes and identity sequences follow them), then any sequence of its own.
        for kinds, statement in ((("r", "p", "v", "m", "f"), "ALTER TABLE"), (("S",), "ALTER SEQUENCE")):
            cursor.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind = ANY(%s) AND pg_get_userbyid(c.relowner) <> %s",
                [schema, list(kinds), role],
            )
            for (name,) in cursor.fetchall():
                owner = statement + " {schema}.{name} OWNER TO {role}"
                _run(cursor, owner, schema=schema, name=name, role=role)


def drop_tenant_role(schema: str) -> None:
    """After the schema is dropped: the role's remaining grants in this database, then the role."""
    if not enabled() or not is_tenant_schema(schema):
        return
    role = tenant_role(schema)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return
        _run(cursor, "DROP OWNED BY {role}", role=role)
        _run(cursor, "DROP ROLE {role}", role=role)
