"""Each tenant's bucket: where it lives, who manages it and the lifecycle numbers operators may change."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.models.accounts import Tenant

GB = 1024**3


class Bucket(models.Model):
    class Backend(models.TextChoices):
        S3 = "s3", "S3 (boto3)"
        LOCAL = "local", "Local directory"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="bucket")
    backend = models.CharField(max_length=10, choices=Backend.choices)
    name = models.CharField(max_length=63, unique=True)
    region = models.CharField(max_length=40, blank=True)
    managed = models.BooleanField(
        default=True,
        help_text="Runyard created it and applies its settings. Off: the customer's own bucket "
        "(bring your own), never reconfigured or deleted by Runyard.",
    )
    cost_center = models.CharField(max_length=100, blank=True, help_text="Tagged CostCenter when set.")
    worksets_expire_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Objects under worksets/ (intermediates) expire after this many days.",
    )
    results_to_ia_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(30), MaxValueValidator(3650)],
        help_text="Objects under results/ move to STANDARD_IA after this many days (S3 needs ≥ 30).",
    )
    noncurrent_expire_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Deleted or overwritten versions are kept this many days (operators can restore them).",
    )
    bytes_used = models.BigIntegerField(
        default=0, help_text="Current objects, kept up to date on upload/delete."
    )
    object_count = models.BigIntegerField(default=0)
    measured_at = models.DateTimeField(null=True, blank=True, help_text="Last full scan of the bucket.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__slug"]

    def __str__(self) -> str:
        return f"{self.backend}://{self.name}"

    @property
    def gb_used(self) -> float:
        return self.bytes_used / GB
