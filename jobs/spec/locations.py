"""Where a spec points in the tenant's bucket, and whether the objects are there. No Django here.

A spec names objects as a key in the tenant's bucket (``inputs/HG002_R1.fastq.gz``) or as
``s3://<the tenant's bucket>/<key>``. ``bucket_key`` turns either into a clean key and refuses anything
that leaves the bucket: another bucket, another scheme, ``..``, absolute paths and encoded forms of them
(``tenants.storage.keys.clean_key`` does the key part).

``head_many`` checks many keys at once with a bounded thread pool: one HEAD is one round trip, so a
1,000-sample workset waits for ~2,000 round trips in sequence but ~2,000 / ``concurrency`` in parallel.
boto3 clients are thread-safe; botocore keeps 10 connections per client by default, hence the default.
"""

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tenants.storage.base import ObjectInfo, ObjectNotFound, Storage, StorageError
from tenants.storage.keys import InvalidKey, clean_key

HEAD_CONCURRENCY = 10
_S3_URI = re.compile(r"^s3[an]?://(?P<bucket>[^/]*)/?(?P<key>.*)$", re.IGNORECASE | re.DOTALL)


class OutsideBucket(ValueError):
    """The path names something outside the tenant's bucket; the message says what."""


def bucket_key(raw: str, bucket_name: str | None, *, folder: bool = False) -> str:
    """The clean key ``raw`` names in the bucket called ``bucket_name``, or raise OutsideBucket."""
    if not isinstance(raw, str):
        raise OutsideBucket("A path must be text.")
    text = raw.strip()
    match = _S3_URI.match(text)
    if match:
        if not bucket_name or match["bucket"] != bucket_name:
            shown = match["bucket"] or "(none)"
            raise OutsideBucket(f"bucket “{shown}” is not this tenant's bucket")
        text = match["key"]
    try:
        return clean_key(text, folder=folder)
    except InvalidKey as error:
        raise OutsideBucket(str(error).rstrip(".")) from error


@dataclass(frozen=True)
class HeadResult:
    key: str
    info: ObjectInfo | None = None  # None: not found, or the check failed (``error`` says why)
    error: str = ""

    @property
    def found(self) -> bool:
        return self.info is not None


def head_one(storage: Storage, key: str) -> HeadResult:
    try:
        return HeadResult(key, storage.head(key))
    except ObjectNotFound:
        return HeadResult(key)
    except StorageError as error:
        return HeadResult(key, error=str(error) or "storage did not answer")


def head_many(
    storage: Storage, keys: Iterable[str], *, concurrency: int = HEAD_CONCURRENCY
) -> dict[str, HeadResult]:
    """HEAD every distinct key; ``concurrency=1`` is the plain sequential loop (the bench's baseline)."""
    distinct = list(dict.fromkeys(keys))
    if concurrency <= 1 or len(distinct) <= 1:
        return {key: head_one(storage, key) for key in distinct}
    with ThreadPoolExecutor(max_workers=min(concurrency, len(distinct))) as pool:
        results = pool.map(lambda key: head_one(storage, key), distinct)
        return {result.key: result for result in results}
