"""Each tenant's bucket: provisioned at onboarding, configured by operators, measured daily, and kept
(or deleted on request) when the tenant goes.

Managed buckets are created and configured by Runyard (versioning, lifecycle, tags, encryption, public
access block). A bring-your-own bucket is only checked for access and never reconfigured or deleted.
"""

import contextlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.models import Bucket, Invoice, Tenant
from tenants.services.audit import record_event
from tenants.storage import StorageError, Usage, s3_config, storage_for
from tenants.storage import s3 as s3_admin
from tenants.storage.local import LocalStorage

MAX_NAME = 63
SUFFIX_HEX = 6
NAME_ATTEMPTS = 3


def bucket_name_for(slug: str) -> str:
    """``<BUCKET_PREFIX>-<slug>-<6 hex>``: a valid S3 name (3–63 lowercase letters, digits, hyphens)
    that is recognisably the tenant's; the random suffix keeps it unique across accounts and
    re-onboardings of the same slug."""
    prefix = _s3_safe(settings.BUCKET_PREFIX)
    suffix = secrets.token_hex(SUFFIX_HEX // 2)
    room = MAX_NAME - len(suffix) - 1 - (len(prefix) + 1 if prefix else 0)
    slug = _s3_safe(slug)[: max(room, 1)].strip("-") or "tenant"
    return "-".join(part for part in (prefix, slug, suffix) if part)[:MAX_NAME]


def _s3_safe(text: str) -> str:
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in text.lower())
    return "-".join(part for part in cleaned.split("-") if part)


def provision_bucket(tenant: Tenant, *, actor, existing: str | None = None, cost_center: str = "") -> Bucket:
    """Give ``tenant`` its bucket: a new managed one, or the customer's ``existing`` one once Runyard
    has proved it can write there. Storage failures become a ValidationError on the ``bucket`` field."""
    backend = settings.STORAGE_BACKEND
    bucket = Bucket(tenant=tenant, backend=backend, cost_center=(cost_center or "").strip())
    bucket.region = settings.S3_REGION if backend == Bucket.Backend.S3 else ""
    try:
        if existing:
            bucket.name, bucket.managed = _adopt(backend, existing.strip()), False
        else:
            bucket.name, bucket.managed = _create(backend, bucket), True
    except StorageError as error:
        raise ValidationError({"bucket": str(error)}) from error
    with transaction.atomic():
        bucket.save()
        record_event(
            "bucket.provisioned",
            actor=actor,
            tenant=tenant,
            target=bucket.name,
            backend=backend,
            managed=bucket.managed,
        )
    return bucket


def _adopt(backend: str, name: str) -> str:
    if Bucket.objects.filter(name=name).exists():
        raise StorageError(f"Bucket {name} already belongs to another tenant.")
    if backend == Bucket.Backend.S3:
        s3_admin.verify_access(name, config=s3_config())
    elif not LocalStorage(name, settings.STORAGE_LOCAL_ROOT).exists():
        raise StorageError(f"Bucket {name} does not exist.")
    return name


def _create(backend: str, bucket: Bucket) -> str:
    for attempt in range(NAME_ATTEMPTS):
        name = bucket_name_for(bucket.tenant.slug)
        if backend == Bucket.Backend.LOCAL:
            local = LocalStorage(name, settings.STORAGE_LOCAL_ROOT)
            if local.exists():
                continue
            local.create()
            return name
        try:
            s3_admin.create_bucket(name, bucket.region, config=s3_config(bucket.region))
        except s3_admin.BucketTaken:
            if attempt == NAME_ATTEMPTS - 1:
                raise
            continue
        bucket.name = name
        _configure_or_remove(bucket)
        return name
    raise StorageError("No free bucket name was found; try again.")


def _configure_or_remove(bucket: Bucket) -> None:
    """A bucket that cannot be configured is removed again, so a failed onboarding leaves nothing behind."""
    try:
        _configure(bucket)
    except StorageError:
        with contextlib.suppress(StorageError):  # the original failure is the one to report
            s3_admin.delete_bucket(bucket.name, config=s3_config(bucket.region))
        raise


def _configure(bucket: Bucket) -> None:
    s3_admin.configure_bucket(
        bucket.name,
        config=s3_config(bucket.region),
        lifecycle=lifecycle_of(bucket),
        tags=tags_of(bucket),
    )


def lifecycle_of(bucket: Bucket) -> s3_admin.Lifecycle:
    return s3_admin.Lifecycle(
        worksets_expire_days=bucket.worksets_expire_days,
        results_to_ia_days=bucket.results_to_ia_days,
        noncurrent_expire_days=bucket.noncurrent_expire_days,
    )


def tags_of(bucket: Bucket) -> dict[str, str]:
    tags = {
        "Customer": bucket.tenant.slug,
        "ManagedBy": "runyard",
        "Environment": settings.BUCKET_ENVIRONMENT_TAG,
    }
    if bucket.cost_center:
        tags["CostCenter"] = bucket.cost_center
    return tags


def apply_bucket_settings(bucket: Bucket, *, actor) -> bool:
    """Re-apply lifecycle numbers and tags after an operator edited them. Only managed S3 buckets have
    them; for the others this does nothing and answers False."""
    if not (bucket.managed and bucket.backend == Bucket.Backend.S3):
        return False
    try:
        _configure(bucket)
    except StorageError as error:
        raise ValidationError({"__all__": str(error)}) from error
    record_event(
        "bucket.configured",
        actor=actor,
        tenant=bucket.tenant,
        target=bucket.name,
        worksets_expire_days=bucket.worksets_expire_days,
        results_to_ia_days=bucket.results_to_ia_days,
        noncurrent_expire_days=bucket.noncurrent_expire_days,
        cost_center=bucket.cost_center,
    )
    return True


def read_bucket_settings(bucket: Bucket) -> dict:
    """What S3 reports for the bucket (empty for local buckets); raises StorageError when unreachable."""
    if bucket.backend != Bucket.Backend.S3:
        return {}
    return s3_admin.read_bucket_configuration(bucket.name, config=s3_config(bucket.region))


def measure_bucket(bucket: Bucket) -> Usage:
    """Scan the whole bucket and store what it holds now (the daily metering calls this)."""
    usage = storage_for(bucket).usage()
    now = timezone.now()
    Bucket.objects.filter(pk=bucket.pk).update(
        bytes_used=usage.bytes, object_count=usage.objects, measured_at=now
    )
    bucket.bytes_used, bucket.object_count, bucket.measured_at = usage.bytes, usage.objects, now
    return usage


def restore_deleted_file(bucket: Bucket, key: str, *, actor):
    """Undo a customer's delete (operators only: the admin's "Restore deleted files" page)."""
    info = storage_for(bucket).restore(key)
    with transaction.atomic():
        Bucket.objects.filter(pk=bucket.pk).update(
            bytes_used=F("bytes_used") + info.size, object_count=F("object_count") + 1
        )
        record_event("file.restored", actor=actor, tenant=bucket.tenant, target=key, size=info.size)
    return info


def delete_tenant(tenant: Tenant, *, actor, delete_bucket: bool = False) -> None:
    """Remove the tenant, its schema and its rows. Its bucket is kept unless ``delete_bucket``, which
    only managed buckets allow; the bucket goes last, so a failure there leaves the tenant in place."""
    bucket = Bucket.objects.filter(tenant=tenant).first()
    if delete_bucket and bucket is not None and not bucket.managed:
        raise ValidationError({"delete_bucket": f"Bucket {bucket.name} is the customer's own; it is kept."})
    slug = tenant.slug
    with transaction.atomic(), schema_context(get_public_schema_name()):
        # Drafts are recomputed from the ledger at will; issued invoices are the customer's bill.
        Invoice.objects.filter(tenant=tenant, status=Invoice.Status.DRAFT).delete()
        try:
            tenant.delete(force_drop=True)
        except ProtectedError as error:
            raise ValidationError(
                {"__all__": f"Tenant {slug} has issued invoices, which must be kept: suspend it instead."}
            ) from error
        record_event(
            "tenant.deleted",
            actor=actor,
            target=slug,
            bucket=bucket.name if bucket else "",
            bucket_kept=not (delete_bucket and bucket is not None),
        )
        if delete_bucket and bucket is not None:
            _destroy(bucket)


def _destroy(bucket: Bucket) -> None:
    try:
        if bucket.backend == Bucket.Backend.S3:
            s3_admin.delete_bucket(bucket.name, config=s3_config(bucket.region))
        else:
            LocalStorage(bucket.name, settings.STORAGE_LOCAL_ROOT).destroy()
    except StorageError as error:
        raise ValidationError({"delete_bucket": str(error)}) from error
