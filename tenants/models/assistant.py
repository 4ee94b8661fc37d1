"""Which model answers a tenant's chat: set by operators, read by ``chat.llm.config_for``.

The default is the built-in analyst (offline, no model). The row never holds an API key: it names where the
key lives, like ``IssConnection`` does: the portal's settings (``CHAT_PROVIDER_KEYS[<tenant slug>]`` or the
environment variable ``CHAT_PROVIDER_KEY_<SLUG>``), an AWS Secrets Manager secret, or nowhere (a local
Ollama or vLLM needs none; Bedrock signs with the portal's own AWS credentials).
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from portal.lib.secrets import aws_location_errors
from tenants.models.accounts import Tenant


class AssistantSettings(models.Model):
    class Provider(models.TextChoices):
        ANALYST = "analyst", "Built-in analyst (offline, no model)"
        OPENAI = "openai", "OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, LiteLLM, OpenRouter)"
        ANTHROPIC = "anthropic", "Anthropic Messages API"
        BEDROCK = "bedrock", "AWS Bedrock (Converse)"

    class KeySource(models.TextChoices):
        NONE = "none", "No key (local server, or Bedrock with the portal's AWS credentials)"
        SETTINGS = "settings", "Portal settings (CHAT_PROVIDER_KEYS[tenant slug] or CHAT_PROVIDER_KEY_<SLUG>)"
        AWS = "aws", "AWS Secrets Manager"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="assistant_settings")
    provider = models.CharField(max_length=12, choices=Provider.choices, default=Provider.ANALYST)
    base_url = models.URLField(
        blank=True,
        help_text="OpenAI-compatible: the URL before /chat/completions, e.g. https://api.openai.com/v1 or "
        "http://ollama:11434/v1. Anthropic: empty means https://api.anthropic.com. Not used by Bedrock.",
    )
    model = models.CharField(
        max_length=200, blank=True, help_text="e.g. gpt-4o-mini, claude-sonnet-4-5, a Bedrock model id."
    )
    key_source = models.CharField(max_length=10, choices=KeySource.choices, default=KeySource.SETTINGS)
    aws_secret_id = models.CharField(
        max_length=512, blank=True, help_text="Secrets Manager secret name or ARN (AWS key source only)."
    )
    aws_secret_key = models.CharField(
        max_length=100,
        default="api_key",
        help_text="When the secret is a JSON object, the field holding the key.",
    )
    aws_region = models.CharField(max_length=40, blank=True, help_text="Bedrock's or the secret's region.")
    aws_endpoint_url = models.URLField(
        blank=True, help_text="Leave empty for AWS itself; set for a VPC endpoint or a test server."
    )
    timeout = models.FloatField(
        default=60.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(600.0)],
        help_text="Seconds to wait for the model's next chunk before giving up (then the analyst answers).",
    )
    max_rounds = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Most rounds of tool calls per answer; then the model answers from what it has.",
    )
    max_tokens = models.PositiveIntegerField(
        default=2048,
        validators=[MinValueValidator(64), MaxValueValidator(64_000)],
        help_text="Most tokens the model may write per request.",
    )
    enabled = models.BooleanField(default=True, help_text="Off means the built-in analyst answers.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant__slug"]
        verbose_name = "assistant settings"
        verbose_name_plural = "assistant settings"

    def __str__(self) -> str:
        return f"Assistant of {self.tenant.slug}: {self.provider}"

    def clean(self) -> None:
        errors = self.problems()
        if errors:
            raise ValidationError(errors)

    def problems(self) -> dict[str, str]:
        """Field errors of a combination that could not work (a model provider without its model...)."""
        P, K = self.Provider, self.KeySource
        errors: dict[str, str] = {}
        if self.provider == P.ANALYST:
            return errors
        if not self.model.strip():
            errors["model"] = f"{self.get_provider_display()} needs a model name."
        if self.provider == P.OPENAI and not self.base_url:
            errors["base_url"] = (
                "An OpenAI-compatible provider needs its base URL, e.g. https://api.openai.com/v1."
            )
        if self.provider == P.ANTHROPIC and self.key_source == K.NONE:
            errors["key_source"] = "Anthropic needs an API key: from the settings or AWS Secrets Manager."
        if self.provider == P.BEDROCK:
            if not self.aws_region:
                errors["aws_region"] = "Bedrock needs the AWS region of the model, e.g. us-east-1."
            if self.key_source != K.NONE:
                errors["key_source"] = "Bedrock signs with the portal's AWS credentials: choose “No key”."
        else:
            errors.update(aws_location_errors(self, uses_aws=self.key_source == K.AWS, source="key source"))
        return errors
