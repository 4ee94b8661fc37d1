"""How a tenant reaches the Intel Simulation Service (ISS): set by operators, read by the ISS pages.

The row never holds the client secret. It names where the secret lives: the portal's settings
(``ISS_CLIENT_SECRETS[<tenant slug>]``) or an AWS Secrets Manager secret read with boto3 at token time.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from portal.lib.secrets import aws_location_errors
from tenants.models.accounts import Tenant


class IssConnectionQuerySet(models.QuerySet):
    def enabled(self) -> "IssConnectionQuerySet":
        return self.filter(enabled=True)


class IssConnection(models.Model):
    class SecretSource(models.TextChoices):
        SETTINGS = "settings", "Portal settings (ISS_CLIENT_SECRETS[tenant slug])"
        AWS = "aws", "AWS Secrets Manager"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="iss_connection")
    base_url = models.URLField(help_text="ISS API, e.g. https://api.simicsservice.intel.com")
    file_service_url = models.URLField(
        help_text="The tenant's file-service host, e.g. https://gw-acme.simicsservice.intel.com"
    )
    token_url = models.URLField(help_text="OAuth2 token endpoint (client-credentials grant).")
    client_id = models.CharField(max_length=200)
    scope = models.CharField(max_length=500, blank=True)
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
        default="client_secret",
        help_text="When the secret is a JSON object, the field holding the client secret.",
    )
    proxy = models.URLField(blank=True, help_text="HTTPS proxy for every ISS call; empty means direct.")
    timeout = models.FloatField(
        default=30.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(300.0)],
        help_text="Seconds to wait for an ISS answer.",
    )
    enabled = models.BooleanField(default=True, help_text="Off hides the ISS pages of the tenant.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = IssConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["tenant__slug"]
        verbose_name = "ISS connection"

    def __str__(self) -> str:
        return f"ISS for {self.tenant.slug}"

    def clean(self) -> None:
        if errors := aws_location_errors(self, uses_aws=self.secret_source == self.SecretSource.AWS):
            raise ValidationError(errors)
