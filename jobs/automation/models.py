"""How a tenant reaches its HCL Workload Automation (HWA/TWS) engine: set by operators, read by the
automation dashboard and the chat tools.

The row never holds the password or API key. It names where the secret lives: the portal's settings
(``HWA_PASSWORDS[<tenant slug>]`` or the environment variable ``HWA_PASSWORD_<SLUG>``) or an AWS Secrets
Manager secret read with boto3 when a request is made.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from portal.lib.secrets import aws_location_errors
from tenants.models import Tenant


class HwaConnectionQuerySet(models.QuerySet):
    def enabled(self) -> "HwaConnectionQuerySet":
        return self.filter(enabled=True)


class HwaConnection(models.Model):
    class SecretSource(models.TextChoices):
        SETTINGS = "settings", "Portal settings (HWA_PASSWORDS[tenant slug] or HWA_PASSWORD_<SLUG>)"
        AWS = "aws", "AWS Secrets Manager"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="hwa_connection")
    base_url = models.URLField(
        help_text="The engine's REST API host, without /twsd, e.g. https://mdm.example.com:31116"
    )
    engine_name = models.CharField(
        max_length=100, blank=True, help_text="How the portal names this engine, e.g. PROD-MDM."
    )
    username = models.CharField(
        max_length=150, blank=True, help_text="Engine user (HTTP Basic); empty when the secret is an API key."
    )
    secret_source = models.CharField(
        max_length=10, choices=SecretSource.choices, default=SecretSource.SETTINGS
    )
    aws_secret_id = models.CharField(
        max_length=512, blank=True, help_text="Secrets Manager secret name or ARN (AWS source only)."
    )
    aws_region = models.CharField(max_length=40, blank=True, help_text="e.g. us-east-1 (AWS source only).")
    aws_endpoint_url = models.URLField(
        blank=True, help_text="Leave empty for AWS itself; set for a VPC endpoint or a test server."
    )
    aws_secret_key = models.CharField(
        max_length=100,
        default="password",
        help_text="When the secret is a JSON object, the field holding the password or API key.",
    )
    timeout = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(30.0)],
        help_text="Seconds to wait for the engine; keep it short, pages wait for it.",
    )
    failure_threshold = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Consecutive failures after which the engine is left alone for the cool-down.",
    )
    cooldown_seconds = models.PositiveIntegerField(
        default=120,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text="How long the portal stops calling an engine that keeps failing.",
    )
    cache_seconds = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(0), MaxValueValidator(600)],
        help_text="How long an engine answer is reused (0: never).",
    )
    enabled = models.BooleanField(default=True, help_text="Off hides the automation page and chat tools.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = HwaConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["tenant__slug"]
        verbose_name = "HWA connection"

    def __str__(self) -> str:
        return f"HWA for {self.tenant.slug}"

    @property
    def label(self) -> str:
        return self.engine_name or "the HWA engine"

    def clean(self) -> None:
        if errors := aws_location_errors(self, uses_aws=self.secret_source == self.SecretSource.AWS):
            raise ValidationError(errors)
