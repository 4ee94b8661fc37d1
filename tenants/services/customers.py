"""The operators' view of a customer: onboarding with a chosen quota, and what the customer uses."""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.models import GB, Bucket, Invoice, Quota, Tenant
from tenants.services.audit import record_event
from tenants.services.onboarding import onboard_tenant

QUOTA_FIELDS = ("max_concurrent_worksets", "max_storage_gb", "monthly_budget_usd", "budget_action")


def onboard_customer(
    name: str,
    *,
    slug: str,
    owner_email: str,
    actor,
    bucket: str | None = None,
    cost_center: str = "",
    **quota,
) -> Tenant:
    """One atomic onboarding (schema, bucket, owner, default quota), then the quota the operator chose.

    Anything that fails, the quota included, rolls the whole customer back.
    """
    unknown = set(quota) - set(QUOTA_FIELDS)
    if unknown:
        raise ValueError(f"not quota fields: {sorted(unknown)}")
    storage = {key: value for key, value in (("bucket", bucket), ("cost_center", cost_center)) if value}
    with transaction.atomic():
        tenant = onboard_tenant(name, slug=slug, owner_email=owner_email, actor=actor, **storage)
        if quota:
            Quota.objects.filter(tenant=tenant).update(**quota)
            record_event(
                "quota.changed",
                actor=actor,
                tenant=tenant,
                target=slug,
                **{k: str(v) for k, v in quota.items()},
            )
    return tenant


def customer_usage(tenant: Tenant, today: date | None = None) -> dict:
    """Storage against its quota, the concurrency quota, and this month's spend against the budget."""
    quota, _ = Quota.objects.get_or_create(tenant=tenant)
    bucket = Bucket.objects.filter(tenant=tenant).first()
    used = bucket.bytes_used if bucket else 0
    limit = quota.max_storage_gb * GB
    spend = month_to_date(tenant, today or timezone.now().date())
    return {
        "storage_bytes": used,
        "storage_gb": round(used / GB, 6),
        "storage_quota_gb": quota.max_storage_gb,
        "storage_utilisation_percent": round(used * 100 / limit, 2) if limit else None,
        "object_count": bucket.object_count if bucket else 0,
        "last_measured": bucket.measured_at if bucket else None,
        "max_concurrent_worksets": quota.max_concurrent_worksets,
        "monthly_budget_usd": quota.monthly_budget_usd,
        "budget_action": quota.budget_action,
        "billing_hold": quota.billing_hold,
        **spend,
        "budget_utilisation_percent": budget_share(spend["month_to_date_usd"], quota.monthly_budget_usd),
    }


def month_to_date(tenant: Tenant, today: date) -> dict:
    """This month's draft invoice, recomputed from the ledger (a draft is meant to be recomputed)."""
    from tenants.services.billing import refresh_draft_invoice

    try:
        invoice = refresh_draft_invoice(tenant, today)
    except ValidationError as error:  # no rate card, a GPU type without a price: the operator must fix it
        return _spend(None, today, error=" ".join(error.messages))
    return _spend(invoice, today)


def _spend(invoice: Invoice | None, today: date, *, error: str = "") -> dict:
    return {
        "month": today.replace(day=1),
        "month_to_date_usd": invoice.total if invoice else None,
        "spend_basis": _basis_of(invoice) if invoice else None,
        "spend_computed_at": invoice.computed_at if invoice else None,
        "pricing_error": error,
    }


def _basis_of(invoice: Invoice) -> str | None:
    """measured, estimated or mixed, over the usage lines (the platform fee is neither)."""
    bases = set(invoice.lines.exclude(category="platform_fee").values_list("basis", flat=True))
    if not bases:
        return None
    return bases.pop() if len(bases) == 1 else "mixed"


def budget_share(spent: Decimal | None, budget: Decimal | None) -> Decimal | None:
    if spent is None or not budget:
        return None
    return (spent * 100 / budget).quantize(Decimal("0.01"))
