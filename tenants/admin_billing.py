"""Operators' admin for usage and billing: rate cards, invoices, the usage ledger, budget alerts, quotas.

Imported by ``tenants.admin``. Every action goes through the billing services, like the tasks and the CLI.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from tenants.models import BudgetAlert, GpuRate, Invoice, InvoiceLine, Quota, RateCard, UsageRecord
from tenants.services.billing import issue_invoice, refresh_draft_invoice
from tenants.services.budgets import release_billing_hold


class GpuRateInline(admin.TabularInline):
    model = GpuRate
    extra = 1


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    list_display = ["name", "effective_from", "vcpu_hour_normal", "storage_gb_month", "platform_fee_monthly"]
    inlines = [GpuRateInline]
    fieldsets = [
        (None, {"fields": ["name", "effective_from", "platform_fee_monthly"]}),
        ("Compute ($ per vCPU-hour)", {"fields": ["vcpu_hour_urgent", "vcpu_hour_normal", "vcpu_hour_low"]}),
        ("Storage ($ per GB-month)", {"fields": ["storage_gb_month"]}),
        (
            "Egress ($ per GB)",
            {"fields": ["egress_gb_in_region", "egress_gb_cross_region", "egress_gb_internet"]},
        ),
        ("AI ($ per 1,000 tokens)", {"fields": ["ai_per_1k_tokens"]}),
    ]


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "description", "quantity", "unit", "unit_price", "amount", "basis"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Invoices are computed, never typed in: drafts are recomputed, closed months issued."""

    list_display = ["tenant", "month", "status", "total", "computed_at", "issued_at"]
    list_filter = ["status", "month", "tenant"]
    search_fields = ["tenant__slug", "code"]
    readonly_fields = ["code", "tenant", "month", "status", "rate_card", "total", "computed_at", "issued_at"]
    inlines = [InvoiceLineInline]
    actions = ["recompute", "issue"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.status == Invoice.Status.DRAFT

    @admin.action(description="Recompute selected drafts from the usage ledger")
    def recompute(self, request, queryset):
        for invoice in queryset.filter(status=Invoice.Status.DRAFT).select_related("tenant"):
            self._run(
                request, invoice, lambda inv: refresh_draft_invoice(inv.tenant, inv.month), "recomputed"
            )

    @admin.action(description="Issue selected invoices (closed months only)")
    def issue(self, request, queryset):
        for invoice in queryset.filter(status=Invoice.Status.DRAFT).select_related("tenant"):
            self._run(request, invoice, lambda inv: issue_invoice(inv, actor=request.user), "issued")

    def _run(self, request, invoice, operation, done: str) -> None:
        """Missing prices (a GPU type without a rate) come back as an error message, not a silent 0."""
        try:
            result = operation(invoice)
        except ValidationError as error:
            self.message_user(request, f"{invoice}: {' '.join(error.messages)}", messages.ERROR)
        else:
            self.message_user(request, f"{invoice.tenant} {invoice.month:%Y-%m} {done}: ${result.total}")


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """The ledger is written by meters and scans (``record_usage``); operators read it."""

    list_display = [
        "period_start",
        "tenant",
        "kind",
        "dimension",
        "quantity",
        "basis",
        "source",
        "superseded_by",
    ]
    list_filter = ["kind", "basis", "source", "tenant", ("superseded_by", admin.EmptyFieldListFilter)]
    search_fields = ["tenant__slug", "reference", "source"]
    date_hierarchy = "period_start"
    list_select_related = ["tenant"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BudgetAlert)
class BudgetAlertAdmin(admin.ModelAdmin):
    list_display = ["tenant", "month", "threshold", "spent", "budget", "created"]
    list_filter = ["threshold", "month", "tenant"]
    readonly_fields = ["tenant", "month", "threshold", "spent", "budget", "created"]

    def has_add_permission(self, request):
        return False


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "max_concurrent_worksets",
        "max_storage_gb",
        "monthly_budget_usd",
        "budget_action",
        "billing_hold",
    ]
    list_filter = ["budget_action", "billing_hold"]
    search_fields = ["tenant__slug", "tenant__name"]
    readonly_fields = ["tenant", "billing_hold", "billing_hold_since"]
    actions = ["release_hold"]

    def has_add_permission(self, request):
        return False  # onboarding creates each tenant's quota

    @admin.action(description="Release billing hold")
    def release_hold(self, request, queryset):
        for quota in queryset.filter(billing_hold=True).select_related("tenant"):
            release_billing_hold(quota.tenant, actor=request.user)
            self.message_user(request, f"Billing hold of {quota.tenant} released.")
