"""Every tenant's health at a glance, for the operators' overview page (and /metrics): worksets by state,
spend vs budget, storage vs quota, error rate and last activity. Read only: nothing here writes.

Queries stay bounded: the public figures (quotas, buckets, audit events) come in a fixed number of
queries for all tenants; each tenant then costs one schema switch, two aggregates over its worksets and
one for the month's ledger. The rate card and issued invoices are read once for everyone."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.models import GB, AuditEvent, Invoice, Quota, Tenant
from tenants.services.billing import invoice_lines, month_start, rate_card_for

ERROR_WINDOW = timedelta(days=7)
# Which workset states each column counts (jobs.models.State values).
RUNNING_STATES = ("dispatched", "running")
QUEUED_STATES = ("queued", "retry_wait")
FAILED_STATES = ("failed",)
DEAD_LETTER_STATES = ("dead_letter",)


@dataclass(frozen=True)
class TenantHealth:
    tenant: Tenant
    running: int
    queued: int
    failed: int
    dead_lettered: int
    finished_recently: int  # worksets that completed or failed in the last ERROR_WINDOW
    failed_recently: int
    spent_usd: Decimal  # month to date, priced like the usage page and the budget check
    budget_usd: Decimal | None
    pricing_error: str
    storage_bytes: int
    storage_quota_bytes: int
    last_activity: datetime | None

    @property
    def error_rate(self) -> float | None:
        """Failed / finished over the window; None when nothing finished (not 0 %: nothing to judge)."""
        return self.failed_recently / self.finished_recently if self.finished_recently else None

    @property
    def budget_share(self) -> float | None:
        return float(self.spent_usd / self.budget_usd) if self.budget_usd else None

    @property
    def storage_share(self) -> float:
        return self.storage_bytes / self.storage_quota_bytes if self.storage_quota_bytes else 0.0


def tenant_health(tenants=None, *, now: datetime | None = None) -> list[TenantHealth]:
    """One row per customer tenant (or per given tenant), ordered by slug."""
    now = now or timezone.now()
    tenants = list(
        (tenants if tenants is not None else Tenant.objects.customers())
        .select_related("quota", "bucket")
        .order_by("slug")
    )
    audited = _last_audit_events([t.pk for t in tenants])
    spend = _Spend(tenants, month_start(now.date()))
    return [_health_of(tenant, audited.get(tenant.pk), spend, now) for tenant in tenants]


def _last_audit_events(tenant_ids: list[int]) -> dict[int, datetime]:
    rows = (
        AuditEvent.objects.filter(tenant_id__in=tenant_ids)
        .order_by()
        .values("tenant_id")
        .annotate(last=Max("created"))
    )
    return {row["tenant_id"]: row["last"] for row in rows}


class _Spend:
    """Month-to-date spend as the usage page and the budget check price it: an issued invoice's total,
    otherwise the ledger priced with the month's rate card (read once). Missing prices are an error
    message for the row, not an exception."""

    def __init__(self, tenants: list[Tenant], month: date):
        self.month, self.error, self.card = month, "", None
        issued = Invoice.objects.filter(tenant__in=tenants, month=month, status=Invoice.Status.ISSUED)
        self.issued = dict(issued.values_list("tenant_id", "total"))
        try:
            self.card = rate_card_for(month)
        except ValidationError as error:
            self.error = " ".join(error.messages)

    def of(self, tenant: Tenant) -> tuple[Decimal, str]:
        if tenant.pk in self.issued:
            return self.issued[tenant.pk], ""
        if self.card is None:
            return Decimal("0.00"), self.error
        try:
            lines = invoice_lines(tenant, self.month, self.card)
        except ValidationError as error:
            return Decimal("0.00"), " ".join(error.messages)
        return sum((line.amount for line in lines), Decimal("0.00")), ""


def _health_of(tenant: Tenant, last_audit: datetime | None, spend: _Spend, now: datetime) -> TenantHealth:
    quota = _quota_or_default(tenant)
    bucket = getattr(tenant, "bucket", None)
    with tenant_context(tenant):
        counts = _workset_counts(now)
    spent, pricing_error = spend.of(tenant)
    return TenantHealth(
        tenant=tenant,
        running=counts["running"],
        queued=counts["queued"],
        failed=counts["failed"],
        dead_lettered=counts["dead_lettered"],
        finished_recently=counts["finished_recently"],
        failed_recently=counts["failed_recently"],
        spent_usd=spent,
        budget_usd=quota.monthly_budget_usd,
        pricing_error=pricing_error,
        storage_bytes=bucket.bytes_used if bucket else 0,
        storage_quota_bytes=quota.max_storage_gb * GB,
        last_activity=_latest(last_audit, counts["last_change"]),
    )


def _quota_or_default(tenant: Tenant) -> Quota:
    """A tenant onboarded before quotas existed has no row yet: read the defaults, write nothing."""
    try:
        return tenant.quota
    except Quota.DoesNotExist:
        return Quota(tenant=tenant)


def _workset_counts(now: datetime) -> dict:
    """Two aggregates in the current tenant's schema: worksets by state, and the window's outcomes (from
    the transitions, so a failed workset that was since retried or dead-lettered still counts as failed)."""
    from jobs.models import State, Workset, WorksetTransition

    counts = Workset.objects.order_by().aggregate(
        running=Count("id", filter=Q(state__in=RUNNING_STATES)),
        queued=Count("id", filter=Q(state__in=QUEUED_STATES)),
        failed=Count("id", filter=Q(state__in=FAILED_STATES)),
        dead_lettered=Count("id", filter=Q(state__in=DEAD_LETTER_STATES)),
        last_change=Max("updated_at"),
    )
    outcomes = WorksetTransition.objects.filter(
        at__gte=now - ERROR_WINDOW, to_state__in=[State.COMPLETED, State.FAILED]
    ).order_by()
    counts |= outcomes.aggregate(
        finished_recently=Count("id"), failed_recently=Count("id", filter=Q(to_state=State.FAILED))
    )
    return counts


def _latest(*moments: datetime | None) -> datetime | None:
    return max((m for m in moments if m is not None), default=None)
