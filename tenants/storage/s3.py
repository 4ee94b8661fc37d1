"""Buckets on S3 or any S3-compatible service (AWS, MinIO, moto), through boto3. No Django here: the
connection comes in as an ``S3Config`` (``tenants.storage.s3_config()`` builds it from the settings).

Two parts: ``S3Storage``, the tenant-facing interface of one bucket, and the operators' bucket
administration (``create_bucket``, ``configure_bucket``, ``read_bucket_configuration``, ``verify_access``,
``delete_bucket``). botocore errors become ``StorageError``/``ObjectNotFound`` whose messages are safe to
show: they name the bucket or key, never credentials or endpoints.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

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

NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
NO_BUCKET = {"NoSuchBucket"}
DENIED = {"403", "AccessDenied", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId"}
SIGNATURE = {"SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
TAKEN = {"BucketAlreadyExists", "BucketAlreadyOwnedByYou"}
# Throttled or briefly down: botocore's standard retries already waited these out (with backoff) and gave up.
BUSY = {"SlowDown", "ServiceUnavailable", "Throttling", "RequestLimitExceeded", "InternalError"}
BUSY_MESSAGE = "Storage is busy right now; try again in a moment."
PROBE_KEY = ".runyard-access-check"


class BucketTaken(StorageError):
    """The name is already used by a bucket (anyone's: S3 bucket names are global)."""


@dataclass(frozen=True)
class S3Config:
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def client(self, *, probe_seconds: float | None = None):
        """A boto3 client; without keys, boto3's own chain (environment, instance role) applies.

        ``probe_seconds``: for a health probe, one attempt with that connect and read timeout (a probe must
        not hang or retry); otherwise botocore's standard retries with backoff."""
        if probe_seconds is None:
            timing = {"retries": {"mode": "standard", "max_attempts": 5}}
        else:
            timing = {
                "retries": {"total_max_attempts": 1},
                "connect_timeout": probe_seconds,
                "read_timeout": probe_seconds,
            }
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                **timing,
            ),
        )


@contextmanager
def translated(bucket: str, key: str = ""):
    """Turn botocore's errors into StorageError/ObjectNotFound with a message for people."""
    what = f"“{key}”" if key else f"bucket {bucket}"
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in NOT_FOUND and key:
            raise ObjectNotFound(f"“{key}” does not exist.") from error
        if code in NO_BUCKET or (code in NOT_FOUND and not key):
            raise StorageError(f"Bucket {bucket} does not exist.") from error
        if code in DENIED or code in SIGNATURE:
            raise StorageError(f"Access to bucket {bucket} was denied; check its permissions.") from error
        if code in TAKEN:
            raise BucketTaken(f"A bucket named {bucket} already exists.") from error
        if code == "NoSuchUpload":
            raise UploadGone("This upload does not exist (it was completed or aborted).") from error
        if code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
            raise UploadRejected(f"The parts of {what} do not fit together: {code}.") from error
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in BUSY or status >= 500:
            raise StorageUnavailable(BUSY_MESSAGE) from error
        raise StorageError(f"Storage refused the request for {what} ({code or 'error'}).") from error
    except BotoCoreError as error:
        raise StorageUnavailable("Storage cannot be reached right now; try again in a moment.") from error


class S3Storage(Storage):
    def __init__(self, name: str, config: S3Config, client=None):
        self.name = name
        self.config = config
        self.client = client or config.client()

    def list(self, prefix: str = "", *, token: str | None = None, limit: int = 1000) -> Listing:
        params: dict[str, Any] = {"Bucket": self.name, "Prefix": prefix, "Delimiter": "/", "MaxKeys": limit}
        if token:
            params["ContinuationToken"] = token
        with translated(self.name):
            page = self.client.list_objects_v2(**params)
        folders = [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
        objects = [_info(entry) for entry in page.get("Contents", []) if entry["Key"] != prefix]
        return Listing(prefix, folders, objects, page.get("NextContinuationToken"))

    def head(self, key: str) -> ObjectInfo:
        with translated(self.name, key):
            answer = self.client.head_object(Bucket=self.name, Key=key)
        return ObjectInfo(
            key=key,
            size=answer["ContentLength"],
            modified=answer["LastModified"],
            etag=answer.get("ETag", "").strip('"'),
            content_type=answer.get("ContentType", ""),
            version_id=answer.get("VersionId", "") or "",
        )

    def upload(self, key: str, data: BinaryIO, *, content_type: str = "") -> ObjectInfo:
        extra = {"ContentType": content_type} if content_type else {}
        with translated(self.name, key):
            answer = self.client.put_object(Bucket=self.name, Key=key, Body=data, **extra)
        try:
            return self.head(key)
        except StorageUnavailable:
            # The file is stored; only reading its details back failed. Answer from what the write said,
            # so the caller counts the object instead of reporting a failure for a file in the bucket.
            return ObjectInfo(
                key=key,
                size=_length(data),
                modified=datetime.now(UTC),
                etag=answer.get("ETag", "").strip('"'),
                content_type=content_type,
                version_id=answer.get("VersionId", "") or "",
            )

    def start_multipart(self, key: str, *, content_type: str = "") -> str:
        extra = {"ContentType": content_type} if content_type else {}
        with translated(self.name, key):
            return self.client.create_multipart_upload(Bucket=self.name, Key=key, **extra)["UploadId"]

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        with translated(self.name, key):
            answer = self.client.upload_part(
                Bucket=self.name, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
        return answer["ETag"].strip('"')

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> ObjectInfo:
        listed = [{"PartNumber": number, "ETag": f'"{etag.strip(chr(34))}"'} for number, etag in parts]
        with translated(self.name, key):
            self.client.complete_multipart_upload(
                Bucket=self.name, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )
        return self.head(key)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with translated(self.name, key):
            self.client.abort_multipart_upload(Bucket=self.name, Key=key, UploadId=upload_id)

    def download(self, key: str, *, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        with translated(self.name, key):
            body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
        return self._stream(body, key, chunk_size)

    def _stream(self, body, key: str, chunk_size: int) -> Iterator[bytes]:
        with translated(self.name, key), body:
            yield from body.iter_chunks(chunk_size)

    def presigned_url(self, key: str, *, method: str = "GET", expires: int = 3600) -> str:
        operation = {"GET": "get_object", "PUT": "put_object"}[method.upper()]
        with translated(self.name, key):
            return self.client.generate_presigned_url(
                operation, Params={"Bucket": self.name, "Key": key}, ExpiresIn=expires
            )

    def delete(self, key: str) -> None:
        with translated(self.name, key):
            self.client.delete_object(Bucket=self.name, Key=key)

    def list_deleted(self, prefix: str = "") -> list[DeletedObject]:
        deleted = []
        for key, markers, versions in self._history(prefix):
            if markers and markers[0]["IsLatest"] and versions and not key.endswith("/"):
                newest = versions[0]
                deleted.append(
                    DeletedObject(key, markers[0]["LastModified"], newest["Size"], newest["VersionId"])
                )
        return deleted

    def restore(self, key: str) -> ObjectInfo:
        """Remove the delete markers above the newest version, which makes that version current again."""
        history = next((h for h in self._history(key) if h[0] == key), None)
        if history is None or not history[1] or not history[1][0]["IsLatest"] or not history[2]:
            raise ObjectNotFound(f"“{key}” has no deleted version to restore.")
        _, markers, versions = history
        newest = versions[0]["LastModified"]
        for marker in markers:
            if marker["LastModified"] >= newest:
                with translated(self.name, key):
                    self.client.delete_object(Bucket=self.name, Key=key, VersionId=marker["VersionId"])
        return self.head(key)

    def _history(self, prefix: str) -> Iterator[tuple[str, list[dict], list[dict]]]:
        """(key, delete markers, versions) per key under ``prefix``, newest first."""
        by_key: dict[str, tuple[list[dict], list[dict]]] = {}
        paginator = self.client.get_paginator("list_object_versions")
        with translated(self.name):
            for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
                for marker in page.get("DeleteMarkers", []):
                    by_key.setdefault(marker["Key"], ([], []))[0].append(marker)
                for version in page.get("Versions", []):
                    by_key.setdefault(version["Key"], ([], []))[1].append(version)
        for key in sorted(by_key, key=str.encode):
            markers, versions = by_key[key]
            markers.sort(key=lambda m: (m["IsLatest"], m["LastModified"]), reverse=True)
            versions.sort(key=lambda v: (v["IsLatest"], v["LastModified"]), reverse=True)
            yield key, markers, versions

    def usage(self) -> Usage:
        total = count = 0
        paginator = self.client.get_paginator("list_objects_v2")
        with translated(self.name):
            for page in paginator.paginate(Bucket=self.name):
                for entry in page.get("Contents", []):
                    if not entry["Key"].endswith("/"):  # folder markers are not files
                        total += entry["Size"]
                        count += 1
        return Usage(bytes=total, objects=count)


def _length(data: BinaryIO) -> int:
    size = getattr(data, "size", None)  # Django's uploaded files
    if size is None:
        position = data.tell()
        size = data.seek(0, 2)
        data.seek(position)
    return size


def _info(entry: dict) -> ObjectInfo:
    return ObjectInfo(
        key=entry["Key"],
        size=entry["Size"],
        modified=entry["LastModified"],
        etag=entry.get("ETag", "").strip('"'),
    )


# -- bucket administration (operators) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Lifecycle:
    worksets_expire_days: int = 90
    results_to_ia_days: int = 30
    noncurrent_expire_days: int = 30

    def rules(self) -> list[dict]:
        return [
            {
                "ID": "worksets-expire",
                "Filter": {"Prefix": "worksets/"},
                "Status": "Enabled",
                "Expiration": {"Days": self.worksets_expire_days},
            },
            {
                "ID": "results-to-standard-ia",
                "Filter": {"Prefix": "results/"},
                "Status": "Enabled",
                "Transitions": [{"Days": self.results_to_ia_days, "StorageClass": "STANDARD_IA"}],
            },
            {
                "ID": "noncurrent-versions-expire",
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": self.noncurrent_expire_days},
            },
        ]


def create_bucket(name: str, region: str, *, config: S3Config) -> None:
    """Create the bucket in ``region`` (us-east-1 takes no LocationConstraint)."""
    params: dict[str, Any] = {"Bucket": name}
    if region and region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with translated(name):
        config.client().create_bucket(**params)


def configure_bucket(
    name: str, *, config: S3Config, lifecycle: Lifecycle, tags: dict[str, str], versioning: bool = True
) -> None:
    """Versioning, lifecycle rules, tags, default encryption (AES256) and the full public access block."""
    client = config.client()
    with translated(name):
        client.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": "Enabled" if versioning else "Suspended"}
        )
        client.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": lifecycle.rules()}
        )
        client.put_bucket_tagging(
            Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
        )
        client.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        client.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )


def read_bucket_configuration(name: str, *, config: S3Config) -> dict:
    """What the bucket really has, read back from S3 (for the admin page and the tests).

    Keys: versioning, lifecycle (rule id → its settings), tags, encryption, public_access_block.
    A part that is not configured is None (or empty).
    """
    client = config.client()
    return {
        "versioning": _optional(name, lambda: client.get_bucket_versioning(Bucket=name).get("Status")),
        "lifecycle": _optional(name, lambda: _lifecycle_of(client, name)) or {},
        "tags": _optional(name, lambda: _tags_of(client, name)) or {},
        "encryption": _optional(name, lambda: _encryption_of(client, name)),
        "public_access_block": _optional(
            name,
            lambda: client.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
        ),
    }


def _optional(name: str, read):
    """None where S3 answers that the part is not configured; other errors are raised."""
    try:
        with translated(name):
            return read()
    except StorageError as error:
        cause = error.__cause__
        if isinstance(cause, ClientError) and str(cause.response["Error"].get("Code", "")).startswith(
            ("NoSuch", "ServerSideEncryptionConfigurationNotFound")
        ):
            return None
        raise


def _lifecycle_of(client, name: str) -> dict:
    rules = client.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    return {rule["ID"]: {k: v for k, v in rule.items() if k != "ID"} for rule in rules}


def _tags_of(client, name: str) -> dict:
    return {tag["Key"]: tag["Value"] for tag in client.get_bucket_tagging(Bucket=name)["TagSet"]}


def _encryption_of(client, name: str) -> str | None:
    rules = client.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    return rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else None


def verify_access(name: str, *, config: S3Config) -> None:
    """Prove Runyard can use the bucket: it exists, and a probe object can be written and removed."""
    client = config.client()
    with translated(name):
        client.head_bucket(Bucket=name)
    probe = f"{PROBE_KEY}-{uuid.uuid4().hex[:8]}"
    with translated(name):
        client.put_object(Bucket=name, Key=probe, Body=b"runyard")
        _delete_all_versions(client, name, probe)


def bucket_exists(name: str, *, config: S3Config) -> bool:
    try:
        with translated(name):
            config.client().head_bucket(Bucket=name)
    except StorageError as error:
        if "does not exist" in str(error):
            return False
        raise
    return True


def delete_bucket(name: str, *, config: S3Config) -> None:
    """Delete every version and delete marker, then the bucket itself."""
    client = config.client()
    _delete_all_versions(client, name, "")
    with translated(name):
        client.delete_bucket(Bucket=name)


def _delete_all_versions(client, name: str, prefix: str) -> None:
    paginator = client.get_paginator("list_object_versions")
    with translated(name):
        for page in paginator.paginate(Bucket=name, Prefix=prefix):
            doomed = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for entry in page.get(kind, [])
                if not prefix or entry["Key"] == prefix
            ]
            for start in range(0, len(doomed), 1000):
                client.delete_objects(Bucket=name, Delete={"Objects": doomed[start : start + 1000]})
