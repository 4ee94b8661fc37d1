"""Quota checks that other use cases call before they add load: storage here, worksets and submissions
from the worksets issue. A check that fails raises ``QuotaExceeded`` (a ValidationError: HTTP 400)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

from tenants.models import GB, Bucket, BudgetAlert, Quota, Tenant


class QuotaExceeded(ValidationError):
    """The message says what the limit is, what is used and what to do."""


class ApprovalRequired(QuotaExceeded):
    """The monthly budget is spent and the tenant's action is "require owner approval"."""


def quota_of(tenant: Tenant) -> Quota:
    quota, _ = Quota.objects.get_or_create(tenant=tenant)
    return quota


def check_quota(tenant: Tenant, kind: str, amount: int = 1) -> None:
    """Refuse work that would exceed the tenant's quota.

    kinds: ``storage`` (amount = bytes to add), ``concurrent_worksets`` (amount = worksets that would
    run at once, the new one included), ``submission`` (new work while the budget action applies).
    """
    if kind not in _CHECKS:
        raise ValueError(f"unknown quota kind {kind!r}")
    _CHECKS[kind](tenant, quota_of(tenant), amount)


def _check_storage(tenant: Tenant, quota: Quota, amount: int) -> None:
    used = Bucket.objects.filter(tenant=tenant).values_list("bytes_used", flat=True).first() or 0
    limit = quota.max_storage_gb * GB
    if used + amount > limit:
        left = max(limit - used, 0)
        raise QuotaExceeded(
            f"Not enough storage: this needs {format_bytes(amount)} but {format_bytes(left)} of your "
            f"{quota.max_storage_gb} GB quota is left ({format_bytes(used)} used). "
            "Delete files you no longer need or ask your operator to raise the quota.",
            code="storage_quota",
        )


def _check_concurrency(tenant: Tenant, quota: Quota, amount: int) -> None:
    if amount > quota.max_concurrent_worksets:
        raise QuotaExceeded(
            f"At most {quota.max_concurrent_worksets} worksets may run at once for {tenant.name}.",
            code="concurrency_quota",
        )


def _check_budget(tenant: Tenant, quota: Quota, amount: int) -> None:
    if quota.billing_hold:
        raise QuotaExceeded(
            "New submissions are on billing hold: this month's budget is spent. An operator can release "
            "the hold; otherwise it ends with the month.",
            code="billing_hold",
        )
    if quota.budget_action == Quota.BudgetAction.APPROVE and budget_spent_this_month(tenant):
        raise ApprovalRequired(
            "This month's budget is spent: an owner must approve new submissions.", code="approval_required"
        )


_CHECKS = {"storage": _check_storage, "concurrent_worksets": _check_concurrency, "submission": _check_budget}


def budget_spent_this_month(tenant: Tenant, today: date | None = None) -> bool:
    month = (today or timezone.now().date()).replace(day=1)
    return BudgetAlert.objects.filter(tenant=tenant, month=month, threshold__gte=100).exists()


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
