"""Operators' admin for each tenant's HWA connection, with a "test connection" action.

The password or API key is never a field here: the row names where it lives.
"""

from django.contrib import admin

from jobs.automation.models import HwaConnection
from tenants.admin_connections import SECRET_FIELDSET, ConnectionAdmin


@admin.register(HwaConnection)
class HwaConnectionAdmin(ConnectionAdmin):
    service = "HWA"
    list_display = ["tenant", "engine_name", "base_url", "username", "secret_source", "enabled", "updated"]
    list_filter = ["enabled", "secret_source"]
    search_fields = ["tenant__slug", "engine_name", "base_url", "username"]
    fieldsets = [
        (None, {"fields": ["tenant", "enabled"]}),
        ("Engine", {"fields": ["engine_name", "base_url", "timeout"]}),
        ("Credentials", {"fields": ["username", "secret_source"]}),
        SECRET_FIELDSET,
        ("Protection of the portal", {"fields": ["failure_threshold", "cooldown_seconds", "cache_seconds"]}),
        ("Dates", {"fields": ["created", "updated"]}),
    ]

    def try_connection(self, connection) -> str:
        from jobs.automation.connections import check_connection

        return check_connection(connection)
