"""Operators' admin for each tenant's chat provider (built-in analyst, OpenAI-compatible, Anthropic, Bedrock).

Imported by ``tenants.admin``. The API key is never a field here: the row names where it lives. A bad
combination (an OpenAI-compatible provider without its base URL or model...) is a form error on its field.
"""

from django.contrib import admin
from django.db import models

from tenants.models import AssistantSettings
from tenants.services.audit import record_event


@admin.register(AssistantSettings)
class AssistantSettingsAdmin(admin.ModelAdmin):
    list_display = ["tenant", "provider", "model", "base_url", "key_source", "enabled", "updated"]
    list_filter = ["provider", "enabled", "key_source"]
    search_fields = ["tenant__slug", "model", "base_url"]
    list_select_related = ["tenant"]
    autocomplete_fields = ["tenant"]
    readonly_fields = ["created", "updated"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["tenant", "provider", "enabled"]}),
        ("Model", {"fields": ["base_url", "model", "timeout", "max_rounds", "max_tokens"]}),
        ("API key (never stored here)", {"fields": ["key_source"]}),
        (
            "AWS (Bedrock, or a key in Secrets Manager)",
            {"fields": ["aws_region", "aws_endpoint_url", "aws_secret_id", "aws_secret_key"]},
        ),
        ("Dates", {"fields": ["created", "updated"]}),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record_event(
            "chat.provider_changed" if change else "chat.provider_added",
            actor=request.user,
            tenant=obj.tenant,
            target=f"{obj.provider} {obj.model}".strip(),
            fields=sorted(form.changed_data),
        )
