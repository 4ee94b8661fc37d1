"""Quotas, the usage ledger, the rate card, invoices and budget alerts (public schema, per tenant)."""

import uuid
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.models.accounts import Role, Tenant

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 14, "decimal_places": 6}
QUANTITY = {"max_digits": 20, "decimal_places": 6}


class Quota(models.Model):
    """What a tenant may use. Operators edit it in the admin; ``tenants.services.quotas`` enforces it."""

    class BudgetAction(models.TextChoices):
        WARN = "warn", "Warn only"
        APPROVE = "approve", "Require owner approval for new submissions"
        HOLD = "hold", "Hold new submissions (billing hold)"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="quota")
    max_concurrent_worksets = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    max_storage_gb = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(1), MaxValueValidator(1_000_000)]
    )
    monthly_budget_usd = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(0)], help_text="Empty: no budget."
    )
    budget_action = models.CharField(max_length=10, choices=BudgetAction.choices, default=BudgetAction.WARN)
    billing_hold = models.BooleanField(
        default=False, help_text="New submissions are held. Set at 100 % of budget when the action is hold."
    )
    billing_hold_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Quota of {self.tenant}"


class UsageRecordQuerySet(models.QuerySet):
    def billable(self):
        """Records that count: a measured record supersedes the estimate for the same period."""
        return self.filter(superseded_by__isnull=True)

    def in_period(self, start, end):
        """Records whose period starts in [start, end)."""
        return self.filter(period_start__gte=start, period_start__lt=end)


class UsageRecord(models.Model):
    """One line of the usage ledger."""

    class Kind(models.TextChoices):
        STORAGE = "storage_gb_days", "Storage (GB-days)"
        VCPU = "vcpu_hours", "Compute (vCPU-hours)"
        GPU = "gpu_hours", "GPU (GPU-hours)"
        EGRESS = "egress_gb", "Egress (GB)"
        AI_TOKENS = "ai_tokens", "AI tokens"

    class Basis(models.TextChoices):
        ESTIMATED = "estimated"
        MEASURED = "measured"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_records")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    dimension = models.CharField(
        max_length=40,
        blank=True,
        help_text="Priority for vCPU-hours, GPU type for GPU-hours, zone for egress "
        "(in_region, cross_region, internet).",
    )
    quantity = models.DecimalField(**QUANTITY, validators=[MinValueValidator(0)])
    basis = models.CharField(max_length=10, choices=Basis.choices)
    source = models.CharField(max_length=80, help_text="What wrote it, e.g. storage-scan, workset.")
    reference = models.CharField(
        max_length=120, blank=True, help_text="What was measured, e.g. a workset code."
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    recorded = models.DateTimeField(auto_now_add=True)

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "dimension", "reference", "basis", "period_start", "period_end"],
                name="one_usage_record_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="usage_period_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "period_start"])]

    def __str__(self) -> str:
        return f"{self.tenant} {self.kind} {self.quantity} ({self.basis})"


class RateCard(models.Model):
    """Prices in USD. The card in force on a day is the latest whose ``effective_from`` is not after it."""

    name = models.CharField(max_length=100)
    effective_from = models.DateField(unique=True)
    vcpu_hour_urgent = models.DecimalField(**RATE, validators=[MinValueValidator(0)])
    vcpu_hour_normal = models.DecimalField(**RATE, validators=[MinValueValidator(0)])
    vcpu_hour_low = models.DecimalField(**RATE, validators=[MinValueValidator(0)])
    storage_gb_month = models.DecimalField(**RATE, validators=[MinValueValidator(0)])
    egress_gb_in_region = models.DecimalField(**RATE, validators=[MinValueValidator(0)])
    egress_gb_cross_region = models.DecimalField(**RATE, validators=[MinValueValidator(0)])
    egress_gb_internet = models.DecimalField(**RATE, validators=[MinValueValidator(0)])
    ai_per_1k_tokens = models.DecimalField(**RATE, validators=[MinValueValidator(0)])
    platform_fee_monthly = models.DecimalField(**MONEY, default=0, validators=[MinValueValidator(0)])
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.name} (from {self.effective_from})"

    @classmethod
    def in_force(cls, on: date) -> "RateCard | None":
        return cls.objects.filter(effective_from__lte=on).prefetch_related("gpu_rates").first()


class GpuRate(models.Model):
    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="gpu_rates")
    gpu_type = models.CharField(max_length=40)
    usd_per_hour = models.DecimalField(**RATE, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["gpu_type"]
        constraints = [
            models.UniqueConstraint(fields=["rate_card", "gpu_type"], name="one_rate_per_gpu_type")
        ]

    def __str__(self) -> str:
        return f"{self.gpu_type}: ${self.usd_per_hour}/h"


class InvoiceQuerySet(models.QuerySet):
    def visible_to(self, membership):
        """Invoices are for the tenant's owners and admins; to anyone else there are none."""
        if not membership.allows(Role.ADMIN):
            return self.none()
        return self.filter(tenant_id=membership.tenant_id)


class Invoice(models.Model):
    """A tenant's bill for one calendar month (UTC). A draft is recomputed; an issued one never changes."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        ISSUED = "issued"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="invoices")
    month = models.DateField(help_text="First day of the month billed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    rate_card = models.ForeignKey(RateCard, on_delete=models.PROTECT, related_name="invoices")
    total = models.DecimalField(**MONEY, default=0)
    computed_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["tenant", "month"], name="one_invoice_per_month")]

    def __str__(self) -> str:
        return f"{self.tenant} {self.month:%Y-%m} ({self.status})"

    def save(self, *args, **kwargs):
        if self.pk and Invoice.objects.filter(pk=self.pk, status=self.Status.ISSUED).exists():
            raise ValidationError("An issued invoice cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status == self.Status.ISSUED:
            raise ValidationError("An issued invoice cannot be deleted.")
        return super().delete(*args, **kwargs)


class InvoiceLine(models.Model):
    # What a customer sees of a line, in this order: the invoice page's CSV and the API use it.
    SHOWN_FIELDS = (
        "position",
        "category",
        "dimension",
        "description",
        "quantity",
        "unit",
        "unit_price",
        "amount",
        "basis",
    )

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=20, help_text="A usage kind, or platform_fee.")
    dimension = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(**QUANTITY)
    unit = models.CharField(max_length=20)
    unit_price = models.DecimalField(**RATE)
    amount = models.DecimalField(**MONEY)
    basis = models.CharField(max_length=10, help_text="measured, estimated, or mixed.")

    class Meta:
        ordering = ["invoice", "position"]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"

    def save(self, *args, **kwargs):
        if Invoice.objects.filter(pk=self.invoice_id, status=Invoice.Status.ISSUED).exists():
            raise ValidationError("Lines of an issued invoice cannot be changed.")
        super().save(*args, **kwargs)


class BudgetAlert(models.Model):
    """One row per tenant, month and threshold: the unique constraint is what makes each alert fire once."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="budget_alerts")
    month = models.DateField()
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the monthly budget: 80 or 100.")
    spent = models.DecimalField(**MONEY)
    budget = models.DecimalField(**MONEY)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month", "threshold"], name="one_alert_per_threshold")
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.month:%Y-%m} {self.threshold} %"
