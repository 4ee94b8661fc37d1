"""The one interface every storage backend implements. No Django here: backends are plain classes,
built by ``tenants.storage.storage_for(bucket)`` from settings and the tenant's Bucket row.

Keys passed in are already clean (``tenants.storage.keys.clean_key``); backends never see raw input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO


class StorageError(Exception):
    """The backend failed (unreachable, refused, throttled). The message is safe to show to users."""


class ObjectNotFound(StorageError):
    pass


class StorageUnavailable(StorageError):
    """The backend is throttling (S3 503 SlowDown), briefly down (503 ServiceUnavailable, 500) or
    unreachable, and still was after the client's retries: the same request may well succeed later."""

    retry_after = 30  # seconds a client is told to wait before trying again


class UploadGone(ObjectNotFound):
    """The multipart upload does not exist (it was completed or aborted): the client's mistake, a 404."""


class UploadRejected(StorageError):
    """The client's parts do not make the file (missing, out of order, mismatched): a 400, not an outage."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime
    etag: str = ""
    content_type: str = ""
    version_id: str = ""


@dataclass(frozen=True)
class Listing:
    """One page of a prefix: sub-folders (keys ending in "/") and objects, and the token of the next page."""

    prefix: str
    folders: list[str] = field(default_factory=list)
    objects: list[ObjectInfo] = field(default_factory=list)
    next_token: str | None = None


@dataclass(frozen=True)
class DeletedObject:
    """A deleted object whose last version can still be restored (versioned buckets)."""

    key: str
    deleted_at: datetime
    size: int
    version_id: str


@dataclass(frozen=True)
class Usage:
    bytes: int
    objects: int


class Storage(ABC):
    """A tenant's bucket. Every method acts on this one bucket only."""

    name: str

    @abstractmethod
    def list(self, prefix: str = "", *, token: str | None = None, limit: int = 1000) -> Listing:
        """One page of objects and folders directly under ``prefix`` ("/" is the delimiter), in key order."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Raise ObjectNotFound when there is no such object."""

    @abstractmethod
    def upload(self, key: str, data: BinaryIO, *, content_type: str = "") -> ObjectInfo:
        """Store a whole object from a file-like object (small files; large ones use multipart)."""

    @abstractmethod
    def start_multipart(self, key: str, *, content_type: str = "") -> str:
        """Return an upload id."""

    @abstractmethod
    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        """Store part ``number`` (1-based); return its etag."""

    @abstractmethod
    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> ObjectInfo:
        """Join the parts (number, etag) in order into the object."""

    @abstractmethod
    def abort_multipart(self, key: str, upload_id: str) -> None: ...

    @abstractmethod
    def download(self, key: str, *, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """Stream the object's bytes. Raise ObjectNotFound before yielding when it does not exist."""

    @abstractmethod
    def presigned_url(self, key: str, *, method: str = "GET", expires: int = 3600) -> str:
        """A URL that lets its holder GET (or PUT) this one key until it expires."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete the current version; the bucket keeps the old version so an operator can restore it."""

    @abstractmethod
    def list_deleted(self, prefix: str = "") -> list[DeletedObject]: ...

    @abstractmethod
    def restore(self, key: str) -> ObjectInfo:
        """Undo the last delete of ``key``."""

    @abstractmethod
    def usage(self) -> Usage:
        """Bytes and number of current objects in the whole bucket (a full scan)."""
