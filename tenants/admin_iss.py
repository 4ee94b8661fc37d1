"""Operators' admin for each tenant's ISS connection, with a "test connection" action.

Imported by ``tenants.admin``. The secret is never a field here: the row names where it lives.
"""

from django.contrib import admin

from tenants.admin_connections import SECRET_FIELDSET, ConnectionAdmin
from tenants.models import IssConnection


@admin.register(IssConnection)
class IssConnectionAdmin(ConnectionAdmin):
    service = "ISS"
    list_display = ["tenant", "base_url", "client_id", "secret_source", "enabled", "updated"]
    list_filter = ["enabled", "secret_source"]
    search_fields = ["tenant__slug", "client_id", "base_url"]
    fieldsets = [
        (None, {"fields": ["tenant", "enabled"]}),
        ("ISS", {"fields": ["base_url", "file_service_url", "token_url", "proxy", "timeout"]}),
        ("OAuth2 client credentials", {"fields": ["client_id", "scope", "secret_source"]}),
        SECRET_FIELDSET,
        ("Dates", {"fields": ["created", "updated"]}),
    ]

    def try_connection(self, connection) -> str:
        from analysis.iss.connections import check_connection

        return check_connection(connection)
