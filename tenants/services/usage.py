"""The usage ledger's one writer, and the daily storage measurement.

Later issues (worksets, analysis, chat) call ``record_usage`` for compute, GPU, egress and AI tokens; this
module measures storage itself. A record is never double-counted: the unique constraint's key identifies it,
and a measured record supersedes the estimate of the same period.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import GB, Bucket, Tenant, UsageRecord

Kind, Basis = UsageRecord.Kind, UsageRecord.Basis
VCPU_PRIORITIES = ("urgent", "normal", "low")
EGRESS_ZONES = ("in_region", "cross_region", "internet")
STORAGE_SOURCE = "storage-scan"


def record_usage(
    tenant: Tenant,
    kind: str,
    quantity,
    *,
    basis: str,
    source: str,
    period_start: datetime,
    period_end: datetime,
    dimension: str = "",
    reference: str = "",
) -> UsageRecord:
    """Add one line to the ledger, or re-measure an existing one.

    The same record again changes nothing; the same key with another quantity replaces the quantity (a
    re-measurement). No audit event: the ledger is itself the record of what was written, by which source.
    """
    quantity = _validated(kind, quantity, basis, period_start, period_end, dimension)
    key = {
        "tenant": tenant,
        "kind": kind,
        "dimension": dimension,
        "reference": reference,
        "period_start": period_start,
        "period_end": period_end,
    }
    with transaction.atomic():
        record, created = UsageRecord.objects.select_for_update().get_or_create(
            **key, basis=basis, defaults={"quantity": quantity, "source": source}
        )
        if not created and record.quantity != quantity:
            record.quantity, record.source = quantity, source
            record.save(update_fields=["quantity", "source"])
        _supersede(record, key)
        # robust: a broker that is down loses this check only; the daily one catches up
        transaction.on_commit(lambda: _check_budget_later(tenant), robust=True)
    return record


def _supersede(record: UsageRecord, key: dict) -> None:
    """A measured record replaces the estimates of its period, whichever of them arrived first."""
    same_period = UsageRecord.objects.filter(**key)
    if record.basis == Basis.MEASURED:
        same_period.filter(basis=Basis.ESTIMATED).update(superseded_by=record)
        return
    measured = same_period.filter(basis=Basis.MEASURED).first()
    if measured and record.superseded_by_id != measured.pk:
        record.superseded_by = measured
        record.save(update_fields=["superseded_by"])


def _check_budget_later(tenant: Tenant) -> None:
    from tenants.tasks import check_budget_task

    check_budget_task.delay(tenant.pk)


def _validated(kind, quantity, basis, period_start, period_end, dimension) -> Decimal:
    errors = {}
    if kind not in Kind.values:
        errors["kind"] = f"Unknown usage kind {kind!r}; one of {', '.join(Kind.values)}."
    if basis not in Basis.values:
        errors["basis"] = "Basis is measured or estimated."
    amount = _decimal(quantity)
    if amount is None or amount < 0:
        errors["quantity"] = "Quantity is a number of at least 0."
    if not (period_start and period_end and period_end > period_start):
        errors["period_end"] = "The period ends after it starts."
    dimension_error = _dimension_error(kind, dimension)
    if dimension_error:
        errors["dimension"] = dimension_error
    if errors:
        raise ValidationError(errors)
    return amount


def _decimal(value) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return amount if amount.is_finite() else None


def _dimension_error(kind: str, dimension: str) -> str | None:
    if kind == Kind.VCPU and dimension not in VCPU_PRIORITIES:
        return f"vCPU-hours need a priority: {', '.join(VCPU_PRIORITIES)}."
    if kind == Kind.EGRESS and dimension not in EGRESS_ZONES:
        return f"Egress needs a zone: {', '.join(EGRESS_ZONES)}."
    if kind == Kind.GPU and not dimension.strip():
        return "GPU-hours need a GPU type, e.g. a100."
    if kind in (Kind.STORAGE, Kind.AI_TOKENS) and dimension:
        return f"{Kind(kind).label} take no dimension."
    return None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def measure_storage(tenant: Tenant, day: date) -> UsageRecord | None:
    """Scan the tenant's bucket and book that UTC day's GB-days (GB × the whole day = GB-days).

    Run twice on one day it re-measures the same record. A tenant without a bucket books nothing.
    """
    from tenants.services.buckets import measure_bucket

    bucket = Bucket.objects.filter(tenant=tenant).first()
    if bucket is None:
        return None
    usage = measure_bucket(bucket)
    start, end = day_bounds(day)
    gb_days = (Decimal(usage.bytes) / GB).quantize(Decimal("0.000001"))
    return record_usage(
        tenant,
        Kind.STORAGE,
        gb_days,
        basis=Basis.MEASURED,
        source=STORAGE_SOURCE,
        period_start=start,
        period_end=end,
        reference=bucket.name,
    )
