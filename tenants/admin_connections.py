"""The base of operators' admins for a tenant's connection to an outside service (ISS, HWA): every save is
audited and a "Test connection" action reports each connection's outcome. The secret is never a field: the
row names where it lives (``SECRET_FIELDSET``)."""

from django.contrib import admin, messages
from django.db import models

from tenants.services.audit import record_event

SECRET_FIELDSET = (
    "AWS Secrets Manager (when the secret lives there)",
    {"fields": ["aws_secret_id", "aws_region", "aws_endpoint_url", "aws_secret_key"]},
)


class ConnectionAdmin(admin.ModelAdmin):
    service = ""  # "ISS": the name in messages, and (lower-cased) the audit actions' prefix
    list_select_related = ["tenant"]
    autocomplete_fields = ["tenant"]
    readonly_fields = ["created", "updated"]
    actions = ["test_connection"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def try_connection(self, connection) -> str:
        """One cheap call to the service: "OK …" or what went wrong."""
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record_event(
            f"{self.service.lower()}.connection_{'changed' if change else 'added'}",
            actor=request.user,
            tenant=obj.tenant,
            target=obj.base_url,
            fields=sorted(form.changed_data),
        )

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        for connection in queryset.select_related("tenant"):
            outcome = self.try_connection(connection)
            level = messages.SUCCESS if outcome.startswith("OK") else messages.ERROR
            self.message_user(
                request, f"{self.service} connection of {connection.tenant.slug}: {outcome}", level
            )
