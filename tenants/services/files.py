"""Files in a tenant's bucket: uploads (whole or in parts), folders and deletes.

Every key goes through ``clean_key``, so nothing outside the tenant's bucket can be named. Before a byte is
written, the growth an upload causes is *reserved* in ``Bucket.bytes_used`` with a conditional update
(``bytes_used + growth <= quota``), so two concurrent uploads cannot both squeeze into the last free space;
the reservation is settled against the real size afterwards, or given back if the upload fails.
``bytes_used``/``object_count`` only ever change through F() updates, so concurrent uploads do not lose
each other's counts.

Multipart uploads are handed to the client as a signed token (key, backend upload id, declared size)
whose salt names the tenant's schema: a token minted for one tenant is not valid on another's host.
"""

from dataclasses import dataclass
from io import BytesIO
from typing import BinaryIO

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404

from tenants.models import GB, Bucket, Tenant
from tenants.services.audit import record_event
from tenants.services.quotas import check_quota, quota_of
from tenants.storage import (
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    Storage,
    StorageError,
    clean_key,
    storage_for,
)

PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
UPLOAD_TOKEN_MAX_AGE = 7 * 24 * 3600
_UPLOAD_SALT = "runyard.files.upload"


@dataclass(frozen=True)
class PendingUpload:
    """A multipart upload in progress, as its signed token describes it."""

    key: str
    upload_id: str
    size: int


def bucket_of(tenant: Tenant) -> Bucket:
    bucket = Bucket.objects.filter(tenant=tenant).first()
    if bucket is None:
        raise StorageError("This tenant has no bucket yet; ask your operator to provision one.")
    return bucket


def storage_of(tenant: Tenant) -> Storage:
    return storage_for(bucket_of(tenant))


def file_key(raw, *, field: str = "key") -> str:
    """A clean file key, or a 400 naming the field."""
    try:
        return clean_key(raw if isinstance(raw, str) else "")
    except InvalidKey as error:
        raise ValidationError({field: str(error)}) from error


def folder_key(raw, *, field: str = "prefix", allow_root: bool = True) -> str:
    """A clean folder key ending in "/" ("" is the root), or a 400 naming the field."""
    try:
        return clean_key(raw if isinstance(raw, str) else "", folder=True, allow_empty=allow_root)
    except InvalidKey as error:
        raise ValidationError({field: str(error)}) from error


def _size_of(storage: Storage, key: str) -> int | None:
    """The current object's size, None when there is none (so an upload adds a new object)."""
    try:
        return storage.head(key).size
    except ObjectNotFound:
        return None


@dataclass(frozen=True)
class Room:
    """Space reserved for one upload: the size of the object it replaces, and the bytes reserved."""

    previous: int | None
    reserved: int


def _make_room(tenant: Tenant, storage: Storage, key: str, size: int) -> Room:
    """Reserve the growth an upload of ``size`` bytes to ``key`` causes, or refuse it (QuotaExceeded)."""
    previous = _size_of(storage, key)
    growth = max(size - (previous or 0), 0)
    limit = quota_of(tenant).max_storage_gb * GB
    while growth:
        fits = Bucket.objects.filter(tenant=tenant, bytes_used__lte=limit - growth)
        if fits.update(bytes_used=F("bytes_used") + growth):
            break
        check_quota(tenant, "storage", growth)  # raises with the figures, unless space was freed meanwhile
    return Room(previous, growth)


def _give_back(tenant: Tenant, room: Room) -> None:
    if room.reserved:
        Bucket.objects.filter(tenant=tenant).update(bytes_used=F("bytes_used") - room.reserved)


def _count(tenant: Tenant, info: ObjectInfo, room: Room) -> None:
    Bucket.objects.filter(tenant=tenant).update(
        bytes_used=F("bytes_used") + info.size - (room.previous or 0) - room.reserved,
        object_count=F("object_count") + (0 if room.previous is not None else 1),
    )


def _recorded(tenant: Tenant, info: ObjectInfo, room: Room, *, actor, how: str) -> ObjectInfo:
    with transaction.atomic():
        _count(tenant, info, room)
        record_event(
            "file.uploaded",
            actor=actor,
            tenant=tenant,
            target=info.key,
            size=info.size,
            replaced=room.previous is not None,
            how=how,
        )
    return info


def upload_file(
    tenant: Tenant, key: str, data: BinaryIO, size: int, *, actor, content_type: str = ""
) -> ObjectInfo:
    """Store a whole file (small uploads). Refused before writing when it would exceed the quota."""
    key = file_key(key)
    storage = storage_of(tenant)
    room = _make_room(tenant, storage, key, size)
    try:
        info = storage.upload(key, data, content_type=content_type)
    except BaseException:
        _give_back(tenant, room)
        raise
    return _recorded(tenant, info, room, actor=actor, how="single")


def _upload_salt(tenant: Tenant) -> str:
    return f"{_UPLOAD_SALT}:{tenant.schema_name}"


def _sign_upload(tenant: Tenant, pending: PendingUpload) -> str:
    payload = {"k": pending.key, "u": pending.upload_id, "s": pending.size}
    return signing.dumps(payload, salt=_upload_salt(tenant), compress=True)


def read_upload(tenant: Tenant, token: str) -> PendingUpload:
    """The upload a token names; 404 for a forged, expired or other tenant's token."""
    try:
        payload = signing.loads(token, salt=_upload_salt(tenant), max_age=UPLOAD_TOKEN_MAX_AGE)
        return PendingUpload(key=payload["k"], upload_id=payload["u"], size=int(payload["s"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise Http404("No such upload.") from error


def _declared_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValidationError({"size": "The size must be a whole number of bytes, at least 1."})
    if size > PART_SIZE * MAX_PARTS:
        raise ValidationError({"size": f"Files are at most {PART_SIZE * MAX_PARTS // 1024**3} GB."})
    return size


def start_upload(tenant: Tenant, key: str, size: int, *, actor, content_type: str = "") -> str:
    """Begin a multipart upload of ``size`` bytes; return its signed token (quota checked first)."""
    key, size = file_key(key), _declared_size(size)
    storage = storage_of(tenant)
    check_quota(tenant, "storage", max(size - (_size_of(storage, key) or 0), 0))  # reserved at completion
    upload_id = storage.start_multipart(key, content_type=content_type)
    return _sign_upload(tenant, PendingUpload(key=key, upload_id=upload_id, size=size))


def upload_part(tenant: Tenant, token: str, number: int, data: bytes, *, actor) -> str:
    """Store one part; return its etag.

    Parts are at most PART_SIZE and part ``n`` may not reach past the declared size, so the parts of an
    upload never add up to more than was declared (and checked against the quota).
    """
    pending = read_upload(tenant, token)
    if not 1 <= number <= MAX_PARTS:
        raise ValidationError({"number": f"Part numbers run from 1 to {MAX_PARTS}."})
    if not data:
        raise ValidationError({"body": "A part cannot be empty."})
    if len(data) > PART_SIZE or (number - 1) * PART_SIZE + len(data) > pending.size:
        raise ValidationError(
            {"body": f"Part {number} goes past the declared size of {pending.size} bytes (parts are 8 MiB)."}
        )
    return storage_of(tenant).upload_part(pending.key, pending.upload_id, number, data)


def _parts(parts) -> list[tuple[int, str]]:
    try:
        joined = sorted((int(part["number"]), str(part["etag"])) for part in parts)
    except (KeyError, TypeError, ValueError) as error:
        raise ValidationError({"parts": "Give each part as {number, etag}."}) from error
    if not joined or len({number for number, _ in joined}) != len(joined):
        raise ValidationError({"parts": "List each uploaded part once."})
    return joined


def complete_upload(tenant: Tenant, token: str, parts, *, actor) -> ObjectInfo:
    """Join the parts into the object.

    The quota is checked again first (other uploads may have finished meanwhile) with the declared size,
    which bounds the real one; a refused upload is aborted, so no object and no parts are left behind.
    """
    pending = read_upload(tenant, token)
    joined = _parts(parts)
    storage = storage_of(tenant)
    try:
        room = _make_room(tenant, storage, pending.key, pending.size)
    except ValidationError:
        storage.abort_multipart(pending.key, pending.upload_id)
        raise
    try:
        info = storage.complete_multipart(pending.key, pending.upload_id, joined)
    except BaseException:
        _give_back(tenant, room)
        raise
    return _recorded(tenant, info, room, actor=actor, how="multipart")


def abort_upload(tenant: Tenant, token: str, *, actor) -> None:
    pending = read_upload(tenant, token)
    storage_of(tenant).abort_multipart(pending.key, pending.upload_id)


def create_folder(tenant: Tenant, prefix: str, *, actor) -> str:
    """Folders are zero-byte "name/" marker objects, so an empty folder shows in listings."""
    prefix = folder_key(prefix, allow_root=False)
    storage = storage_of(tenant)
    previous = _size_of(storage, prefix)
    if previous is None:
        info = storage.upload(prefix, BytesIO(b""), content_type="application/x-directory")
        with transaction.atomic():
            _count(tenant, info, Room(previous=None, reserved=0))
            record_event("file.folder_created", actor=actor, tenant=tenant, target=prefix)
    return prefix


def delete_file(tenant: Tenant, key: str, *, actor) -> None:
    """Delete a file, or an empty folder (a key ending in "/"). The bucket keeps the old version."""
    folder = isinstance(key, str) and key.endswith("/")
    key = folder_key(key, field="key", allow_root=False) if folder else file_key(key)
    storage = storage_of(tenant)
    if folder and _folder_has_content(storage, key):
        raise ValidationError({"key": "Only empty folders can be deleted; delete the files in it first."})
    size = _size_of(storage, key)
    if size is None:
        raise Http404("No such file.")
    storage.delete(key)
    with transaction.atomic():
        Bucket.objects.filter(tenant=tenant).update(
            bytes_used=F("bytes_used") - size, object_count=F("object_count") - 1
        )
        record_event("file.deleted", actor=actor, tenant=tenant, target=key, size=size)


def _folder_has_content(storage: Storage, prefix: str) -> bool:
    listing = storage.list(prefix, limit=2)
    return bool(listing.folders) or any(item.key != prefix for item in listing.objects)
