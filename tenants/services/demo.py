"""Demo data for ``runyard demo``: the tenant's bucket with sample inputs, a month of usage and a budget.

Every step is idempotent: files already in place are not uploaded again, ledger records are keyed by
their period (``record_usage`` changes nothing for the same figures), and an operator's budget is kept.
"""

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from tenants import demo_data
from tenants.models import GB, Bucket, Quota, Tenant, UsageRecord
from tenants.services.audit import record_event
from tenants.services.buckets import measure_bucket, provision_bucket
from tenants.services.files import upload_file
from tenants.services.usage import day_bounds, measure_storage, record_usage
from tenants.storage import ObjectNotFound, storage_for

SOURCE = "demo"
DAYS = 30
BUDGET_USD = Decimal("250.00")
CONTENT_TYPES = {".gz": "application/gzip", ".tsv": "text/tab-separated-values"}


@dataclass(frozen=True)
class DemoSeed:
    bucket: Bucket
    files_uploaded: int
    files_total: int
    days: int


def seed_demo_data(tenant: Tenant, *, actor, today: date | None = None) -> DemoSeed:
    today = today or timezone.now().date()
    bucket = Bucket.objects.filter(tenant=tenant).first() or provision_bucket(tenant, actor=actor)
    files = demo_data.demo_files(lambda key: object_uri(bucket, key))
    uploaded = sum(_upload_if_missing(tenant, bucket, key, content, actor) for key, content in files.items())
    record_demo_usage(tenant, bucket, today)
    ensure_demo_budget(tenant, actor=actor)
    return DemoSeed(bucket=bucket, files_uploaded=uploaded, files_total=len(files), days=DAYS)


def object_uri(bucket: Bucket, key: str) -> str:
    """How a workset names the object: ``s3://<bucket>/<key>`` on S3; on the local backend, which has
    no URI scheme a spec accepts, the key itself (a workset's paths are keys of the tenant's bucket)."""
    if bucket.backend == Bucket.Backend.S3:
        return f"s3://{bucket.name}/{key}"
    return key


def _upload_if_missing(tenant: Tenant, bucket: Bucket, key: str, content: bytes, actor) -> bool:
    try:
        if storage_for(bucket).head(key).size == len(content):
            return False
    except ObjectNotFound:
        pass
    content_type = next((t for suffix, t in CONTENT_TYPES.items() if key.endswith(suffix)), "")
    upload_file(tenant, key, io.BytesIO(content), len(content), actor=actor, content_type=content_type)
    return True


def record_demo_usage(tenant: Tenant, bucket: Bucket, today: date) -> None:
    """The past DAYS days: storage at the bucket's real size (a day already scanned is kept) and demo
    compute, GPU, egress and AI tokens, measured; today's demo usage is still an estimate."""
    measured_bytes = measure_bucket(bucket).bytes
    for back in range(DAYS, 0, -1):
        day = today - timedelta(days=back)
        _record_storage_day(tenant, bucket, day, measured_bytes)
        _record_demo_day(tenant, day, UsageRecord.Basis.MEASURED)
    measure_storage(tenant, today)
    _record_demo_day(tenant, today, UsageRecord.Basis.ESTIMATED)


def _record_storage_day(tenant: Tenant, bucket: Bucket, day: date, measured_bytes: int) -> None:
    start, end = day_bounds(day)
    kind = UsageRecord.Kind.STORAGE
    if UsageRecord.objects.filter(tenant=tenant, kind=kind, period_start=start).exists():
        return
    gb_days = (Decimal(measured_bytes) / GB).quantize(Decimal("0.000001"))
    record_usage(
        tenant,
        kind,
        gb_days,
        basis=UsageRecord.Basis.MEASURED,
        source=SOURCE,
        period_start=start,
        period_end=end,
        reference=bucket.name,
    )


def _record_demo_day(tenant: Tenant, day: date, basis: str) -> None:
    start, end = day_bounds(day)
    for item in demo_data.demo_usage(day):
        record_usage(
            tenant,
            item.kind,
            item.quantity,
            basis=basis,
            source=SOURCE,
            period_start=start,
            period_end=end,
            dimension=item.dimension,
            reference=SOURCE,
        )


def ensure_demo_budget(tenant: Tenant, *, actor) -> None:
    """A budget so the usage page has something to measure against; one set by an operator is kept."""
    with transaction.atomic():
        changed = Quota.objects.filter(tenant=tenant, monthly_budget_usd__isnull=True).update(
            monthly_budget_usd=BUDGET_USD
        )
        if changed:
            record_event(
                "quota.changed",
                actor=actor,
                tenant=tenant,
                target=tenant.slug,
                monthly_budget_usd=str(BUDGET_USD),
            )
