"""A bucket in a local directory, for ``runyard demo`` and single machines without S3.

Layout of ``<root>/<bucket name>/``::

    files/      the objects, one file per key ("a/b.txt" is files/a/b.txt)
    .markers/   empty-folder markers (keys ending in "/"), one file per marker named by the key's hash
    .staging/   multipart uploads in progress, one directory per upload id
    .versions/  deleted objects, kept so an operator can restore them, one directory per key hash
    .tmp/       files being written; renamed into files/ once complete, so readers never see half a file

Only ``files/`` is listed or counted; the hidden areas sit beside it, so no user key can reach them.
It behaves like a versioned S3 bucket with "/" as delimiter, with two differences: a key cannot be both
a file and a folder ("a" and "a/b"), and content types are guessed from the key's extension.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import json
import mimetypes
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from tenants.storage.base import (
    DeletedObject,
    Listing,
    ObjectInfo,
    ObjectNotFound,
    Storage,
    StorageError,
    UploadGone,
    UploadRejected,
    Usage,
)
from tenants.storage.links import sign_link

COPY_CHUNK = 1024 * 1024


class LocalStorage(Storage):
    def __init__(self, name: str, root: Path | str):
        self.name = name
        self.base = Path(root) / name
        self.files = self.base / "files"

    # -- administration -------------------------------------------------------------------------------

    def create(self) -> None:
        """Make the bucket's directories (idempotent)."""
        for area in ("files", ".markers", ".staging", ".versions", ".tmp"):
            (self.base / area).mkdir(parents=True, exist_ok=True)

    def destroy(self) -> None:
        """Remove the bucket with every object, version and upload in it."""
        shutil.rmtree(self.base, ignore_errors=True)

    def exists(self) -> bool:
        return self.files.is_dir()

    # -- listing ----------------------------------------------------------------------------------------

    def list(self, prefix: str = "", *, token: str | None = None, limit: int = 1000) -> Listing:
        folder, _, start = prefix.rpartition("/")
        parent = folder + "/" if folder else ""
        folders: list[str] = []
        objects: list[ObjectInfo] = []
        for key, path in self._entries(self._path(parent), parent, start, _decode_token(token)):
            if len(folders) + len(objects) == limit:
                return Listing(prefix, folders, objects, _encode_token(_last(folders, objects)))
            if key.endswith("/"):
                folders.append(key)
            else:
                try:
                    objects.append(self._info(key, os.lstat(path)))
                except FileNotFoundError:
                    continue  # deleted since the directory was read
        return Listing(prefix, folders, objects, None)

    def _entries(
        self, directory: Path, parent: str, start: str, after: str | None
    ) -> Iterator[tuple[str, str]]:
        """Visible entries of one directory after the key ``after``, as (key, path), in S3's order
        (UTF-8 bytes of the key; a folder sorts as its name followed by "/")."""
        found = _sorted_keys(directory, parent)
        first = bisect.bisect_right(found, after.encode()) if after else 0
        wanted = (parent + start).encode()
        files = str(self.files)
        for encoded in itertools.islice(found, first, None):
            if start and not encoded.startswith(wanted):
                continue
            key = encoded.decode()
            path = os.path.join(files, key.rstrip("/"))
            if not key.endswith("/") or self._is_marked(key) or _non_empty(path):
                yield key, path

    # -- reading ----------------------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        if key.endswith("/"):
            marker = self._marker(key)
            if not marker.exists():
                raise ObjectNotFound(f"“{key}” does not exist.")
            return ObjectInfo(key=key, size=0, modified=_when(marker.stat().st_mtime), etag="")
        path = self._path(key)
        with self._errors(key):
            stat = path.stat()
        if not path.is_file():
            raise ObjectNotFound(f"“{key}” does not exist.")
        return self._info(key, stat)

    def download(self, key: str, *, chunk_size: int = COPY_CHUNK) -> Iterator[bytes]:
        path = self._path(key)
        with self._errors(key):
            handle = path.open("rb")  # opened now, so a missing key fails before the first chunk
        return _chunks(handle, chunk_size)

    def presigned_url(self, key: str, *, method: str = "GET", expires: int = 3600) -> str:
        return sign_link(self.name, key, method, expires)

    # -- writing ----------------------------------------------------------------------------------------

    def upload(self, key: str, data: BinaryIO, *, content_type: str = "") -> ObjectInfo:
        if key.endswith("/"):
            return self._make_folder(key)
        with self._temporary() as (temp, handle):
            shutil.copyfileobj(data, handle, COPY_CHUNK)
            handle.close()
            self._publish(temp, key)
        return self.head(key)

    def _make_folder(self, key: str) -> ObjectInfo:
        with self._errors(key):
            self._path(key).mkdir(parents=True, exist_ok=True)
            marker = self._marker(key)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(key)
        return self.head(key)

    def start_multipart(self, key: str, *, content_type: str = "") -> str:
        upload_id = uuid.uuid4().hex
        staging = self.base / ".staging" / upload_id
        with self._errors(key):
            staging.mkdir(parents=True)
            (staging / "key").write_text(key)
        return upload_id

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        staging = self._staging(key, upload_id)
        if not 1 <= number <= 10000:
            raise UploadRejected("Part numbers run from 1 to 10,000.")
        with self._temporary() as (temp, handle):
            handle.write(data)
            handle.close()
            os.replace(temp, staging / f"{number:05d}")
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> ObjectInfo:
        staging = self._staging(key, upload_id)
        numbers = [number for number, _ in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise UploadRejected("List each part once, in ascending order.")
        with self._temporary() as (temp, handle):
            for number, etag in parts:
                self._append_part(handle, staging / f"{number:05d}", etag)
            handle.close()
            self._publish(temp, key)
        shutil.rmtree(staging, ignore_errors=True)
        return self.head(key)

    def _append_part(self, handle: BinaryIO, part: Path, etag: str) -> None:
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with part.open("rb") as source:
                while chunk := source.read(COPY_CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
        except FileNotFoundError as error:
            raise UploadRejected(f"Part {int(part.name)} was never uploaded.") from error
        if digest.hexdigest() != etag.strip('"'):
            raise UploadRejected(f"Part {int(part.name)} does not match its etag.")

    def abort_multipart(self, key: str, upload_id: str) -> None:
        shutil.rmtree(self._staging(key, upload_id), ignore_errors=True)

    # -- deleting and restoring -------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        if key.endswith("/"):
            self._marker(key).unlink(missing_ok=True)
            self._prune(self._path(key))
            return
        path = self._path(key)
        if not path.is_file():
            return  # like S3: deleting a missing key is not an error
        versions = self._versions(key)
        versions.mkdir(parents=True, exist_ok=True)
        version_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        meta = {"key": key, "deleted_at": time.time(), "size": path.stat().st_size}
        with self._errors(key):
            os.replace(path, versions / version_id)
            (versions / f"{version_id}.json").write_text(json.dumps(meta))
        self._prune(path.parent)

    def list_deleted(self, prefix: str = "") -> list[DeletedObject]:
        deleted = []
        for versions in sorted((self.base / ".versions").glob("*")):
            latest = _latest_version(versions)
            if latest is None:
                continue
            meta = json.loads((versions / f"{latest}.json").read_text())
            if meta["key"].startswith(prefix) and not self._path(meta["key"]).is_file():
                deleted.append(DeletedObject(meta["key"], _when(meta["deleted_at"]), meta["size"], latest))
        return sorted(deleted, key=lambda item: item.key.encode())

    def restore(self, key: str) -> ObjectInfo:
        versions = self._versions(key)
        latest = _latest_version(versions) if versions.is_dir() else None
        path = self._path(key)
        if latest is None or path.is_file():
            raise ObjectNotFound(f"“{key}” has no deleted version to restore.")
        with self._errors(key):
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(versions / latest, path)
            (versions / f"{latest}.json").unlink()
        return self.head(key)

    def usage(self) -> Usage:
        total = count = 0
        for directory, _, names in os.walk(self.files):
            for name in names:
                total += os.lstat(os.path.join(directory, name)).st_size
                count += 1
        return Usage(bytes=total, objects=count)

    # -- internals --------------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise StorageError("Keys must be cleaned before they reach storage.")
        return self.files / key if key else self.files

    def _marker(self, key: str) -> Path:
        return self.base / ".markers" / _hash(key)

    def _is_marked(self, key: str) -> bool:
        return self._marker(key).exists()

    def _versions(self, key: str) -> Path:
        return self.base / ".versions" / _hash(key)

    def _staging(self, key: str, upload_id: str) -> Path:
        staging = self.base / ".staging" / upload_id
        if not upload_id.isalnum() or not (staging / "key").is_file():
            raise UploadGone("This upload does not exist (it was completed or aborted).")
        if (staging / "key").read_text() != key:
            raise UploadRejected("This upload belongs to another key.")
        return staging

    def _info(self, key: str, stat: os.stat_result) -> ObjectInfo:
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        etag = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
        return ObjectInfo(key, stat.st_size, _when(stat.st_mtime), etag, content_type)

    @contextmanager
    def _temporary(self):
        """A temporary file beside files/ (same filesystem, so the final rename is atomic)."""
        temp = self.base / ".tmp" / uuid.uuid4().hex
        try:
            temp.parent.mkdir(parents=True, exist_ok=True)
            with temp.open("wb") as handle:
                yield temp, handle
        except OSError as error:
            raise StorageError(f"Could not write to bucket {self.name}: {error.strerror}.") from error
        finally:
            temp.unlink(missing_ok=True)

    def _publish(self, temp: Path, key: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as error:
            raise StorageError(f"A file stands where a folder of “{key}” would be.") from error
        if path.is_dir():
            raise StorageError(f"“{key}” is a folder.")
        os.replace(temp, path)

    def _prune(self, directory: Path) -> None:
        """Remove folders left empty by a delete, like S3 where a folder is only a common prefix."""
        while directory != self.files and directory.is_relative_to(self.files):
            key = str(directory.relative_to(self.files)) + "/"
            if self._is_marked(key) or _non_empty(directory):
                return
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    @contextmanager
    def _errors(self, key: str):
        try:
            yield
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as error:
            raise ObjectNotFound(f"“{key}” does not exist.") from error
        except OSError as error:
            raise StorageError(f"Storage failed for “{key}”: {error.strerror}.") from error


# Reading a directory of 100,000 entries takes most of a second; pages after the first reuse the sorted
# keys while the directory is unchanged. Its mtime only says "unchanged" reliably when it is older than the
# clock's coarse tick: keys are kept only when the directory had not changed for a second before the scan.
_SCANS: OrderedDict[str, tuple[int, list[bytes]]] = OrderedDict()
_SCANS_LOCK = threading.Lock()
_SCANS_KEPT = 8
_SETTLED_NS = 1_000_000_000


def _sorted_keys(directory: Path, parent: str) -> list[bytes]:
    try:
        mtime = directory.stat().st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return []
    with _SCANS_LOCK:
        cached = _SCANS.get(str(directory))
        if cached and cached[0] == mtime:
            _SCANS.move_to_end(str(directory))
            return cached[1]
    scanned_at = time.time_ns()
    try:
        with os.scandir(directory) as scan:
            keys = sorted((parent + e.name + ("/" if e.is_dir() else "")).encode() for e in scan)
    except (FileNotFoundError, NotADirectoryError):
        return []
    if scanned_at - mtime > _SETTLED_NS:
        with _SCANS_LOCK:
            _SCANS[str(directory)] = (mtime, keys)
            while len(_SCANS) > _SCANS_KEPT:
                _SCANS.popitem(last=False)
    return keys


def _chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _latest_version(versions: Path) -> str | None:
    ids = sorted(path.stem for path in versions.glob("*.json"))
    return ids[-1] if ids else None


def _non_empty(path: str | Path) -> bool:
    try:
        with os.scandir(path) as scan:
            return any(True for _ in scan)
    except OSError:
        return False


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _last(folders: list[str], objects: list[ObjectInfo]) -> str:
    keys = folders + [info.key for info in objects]
    return max(keys, key=str.encode)


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise StorageError("This page token is not valid; start from the first page.") from error
