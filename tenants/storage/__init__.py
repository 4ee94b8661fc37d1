"""Tenant storage: one interface (``base.Storage``), an S3 backend and a local-directory backend.

``storage_for(bucket)`` builds the backend of a tenant's Bucket row from the settings.
"""

from tenants.storage.base import (
    DeletedObject,
    Listing,
    ObjectInfo,
    ObjectNotFound,
    Storage,
    StorageError,
    StorageUnavailable,
    UploadGone,
    UploadRejected,
    Usage,
)
from tenants.storage.keys import InvalidKey, clean_key

__all__ = [
    "DeletedObject",
    "InvalidKey",
    "Listing",
    "ObjectInfo",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "UploadGone",
    "UploadRejected",
    "Usage",
    "clean_key",
    "s3_config",
    "storage_for",
]


def storage_for(bucket) -> Storage:
    """The backend serving ``bucket`` (a ``tenants.models.Bucket``), configured from the settings."""
    from django.conf import settings

    if bucket.backend == "local":
        from tenants.storage.local import LocalStorage

        return LocalStorage(bucket.name, settings.STORAGE_LOCAL_ROOT)
    if bucket.backend == "s3":
        from tenants.storage.s3 import S3Storage

        return S3Storage(bucket.name, s3_config(bucket.region))
    raise StorageError(f"Unknown storage backend {bucket.backend!r}.")


def s3_config(region: str = ""):
    """Where S3 is and how to sign in to it (``S3_*`` settings); ``region`` overrides S3_REGION."""
    from django.conf import settings

    from tenants.storage.s3 import S3Config

    return S3Config(
        endpoint_url=settings.S3_ENDPOINT_URL or None,
        region=region or settings.S3_REGION,
        access_key_id=settings.S3_ACCESS_KEY_ID or None,
        secret_access_key=settings.S3_SECRET_ACCESS_KEY or None,
    )
