"""Operators' admin for each tenant's ISS connection, with a "test connection" action.

Imported by ``tenants.admin``. The secret is never a field here: the row names where it lives.
"""

from django.contrib import admin, messages
from django.db import models

from tenants.models import IssConnection
from tenants.services.audit import record_event


@admin.register(IssConnection)
class IssConnectionAdmin(admin.ModelAdmin):
    list_display = ["tenant", "base_url", "client_id", "secret_source", "enabled", "updated"]
    list_filter = ["enabled", "secret_source"]
    search_fields = ["tenant__slug", "client_id", "base_url"]
    list_select_related = ["tenant"]
    autocomplete_fields = ["tenant"]
    readonly_fields = ["created", "updated"]
    actions = ["test_connection"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["tenant", "enabled"]}),
        ("ISS", {"fields": ["base_url", "file_service_url", "token_url", "proxy", "timeout"]}),
        ("OAuth2 client credentials", {"fields": ["client_id", "scope", "secret_source"]}),
        (
            "AWS Secrets Manager (when the secret lives there)",
            {"fields": ["aws_secret_id", "aws_region", "aws_endpoint_url", "aws_secret_key"]},
        ),
        ("Dates", {"fields": ["created", "updated"]}),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record_event(
            "iss.connection_changed" if change else "iss.connection_added",
            actor=request.user,
            tenant=obj.tenant,
            target=obj.base_url,
            fields=sorted(form.changed_data),
        )

    @admin.action(description="Test connection (list one job)")
    def test_connection(self, request, queryset):
        from analysis.iss.connections import check_connection

        for connection in queryset.select_related("tenant"):
            outcome = check_connection(connection)
            level = messages.SUCCESS if outcome.startswith("OK") else messages.ERROR
            self.message_user(request, f"ISS connection of {connection.tenant.slug}: {outcome}", level)
