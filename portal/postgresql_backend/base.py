"""django-tenants' PostgreSQL backend, run as the tenant's own PostgreSQL role while in a tenant's schema.

django-tenants picks the tenant's schema with ``SET search_path`` before each cursor; a query naming another
schema outright (``SELECT * FROM beta.jobs_workset``) would still be answered. Here the same statement also
takes on the role that owns the tenant's schema (``tenants.database_roles``): that role may use its own
schema and the public one, nothing else, so PostgreSQL itself refuses another tenant's tables. The public
schema and the template run as the login role (``RESET ROLE``).

Both settings go in one statement, so they take effect together or not at all (a simple query's statements
share one transaction) and a cursor costs no extra round trip. ``SET ROLE`` is checked against the login
role, so SQL that resets the role is not stopped: this guards against code naming the wrong schema.
"""

import psycopg
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from psycopg import sql

from tenants.database_roles import enabled, is_tenant_schema, tenant_role


class _AlsoSetRole:
    """The cursor django-tenants runs ``SET search_path`` on, with the role statement appended."""

    def __init__(self, cursor, role_statement: str):
        self.cursor, self.role_statement, self.error = cursor, role_statement, None

    def execute(self, statement, params=None):
        try:
            return self.cursor.execute(f"{statement}; {self.role_statement}")
        except Exception as error:  # django-tenants swallows it; _handle_search_path re-raises a refused role
            self.error = error
            raise

    def close(self):
        self.cursor.close()


class DatabaseWrapper(TenantDatabaseWrapper):
    def role_statement(self) -> str:
        if not enabled() or not is_tenant_schema(self.schema_name):
            return "RESET ROLE"
        role = tenant_role(self.schema_name, self.settings_dict["NAME"])
        return sql.SQL("SET ROLE {}").format(sql.Identifier(role)).as_string(None)

    def _handle_search_path(self, cursor=None):
        if self._setting_search_path or not self.schema_name:
            return super()._handle_search_path(cursor)
        own_cursor = cursor is None
        cursor = self.connection.cursor() if own_cursor else cursor
        aborted = self.connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with_role = _AlsoSetRole(cursor, self.role_statement())
        try:
            super()._handle_search_path(with_role)
        finally:
            if own_cursor:
                cursor.close()
        if with_role.error is not None and not aborted:
            # In an aborted transaction only a rollback can run next, so django-tenants' silence is right
            # there; otherwise the role was refused (e.g. it does not exist): never go on without it.
            raise with_role.error
