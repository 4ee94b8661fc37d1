"""Use cases of the analysis app: add a profile (upload, workset result, ISS file), parse it, re-parse,
delete. Parsing runs in Celery (``analysis.tasks.parse_profile_task``) and reports its progress live."""

from __future__ import annotations

import logging
import tempfile
import time
import zlib
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from analysis import live
from analysis.models import Profile, Source, State
from analysis.profiles import detect, store
from analysis.profiles.model import ProfileFormatError
from jobs.models import Workset, new_code
from portal.metrics import PARSE_DURATION, tenant_label
from tenants.access import current_tenant
from tenants.services.audit import record_event
from tenants.services.files import delete_file, file_key, storage_of, upload_file
from tenants.storage import ObjectNotFound, StorageError

log = logging.getLogger(__name__)

PARQUET = "application/vnd.apache.parquet"
PARSE_SHARE = 90  # percent of the bar for reading the file; the rest is storing the tables
REPORT_EVERY_SECONDS = 0.5
MAX_RESULT_FILES = 1000  # files of one workset's results looked at for profiles


def _checked_upload(name: str, filename: str, size: int, field: str = "file") -> tuple[str, str]:
    name = (name or "").strip() or Path(filename or "").name
    filename = Path((filename or "").replace("\\", "/")).name
    errors = {}
    if not filename:
        errors[field] = "The file needs a name."
    if not name:
        errors["name"] = "Give the profile a name."
    elif len(name) > 100:
        errors["name"] = "At most 100 characters."
    if size <= 0:
        errors[field] = "The file is empty."
    elif size > settings.RUNYARD_MAX_PROFILE_BYTES:
        limit = settings.RUNYARD_MAX_PROFILE_BYTES // 1024**2
        errors[field] = (
            f"The file is larger than the {limit} MB profiles may have (gzip it: profiles shrink 4–7×)."
        )
    if errors:
        raise ValidationError(errors)
    return name, filename


def create_profile(
    *,
    name: str,
    filename: str,
    data: BinaryIO,
    size: int,
    actor,
    source: str = Source.UPLOAD,
    source_ref: str = "",
    disassembly: tuple[str, BinaryIO, int] | None = None,
) -> Profile:
    """Store the file (and an optional ``objdump -d`` of the binary) in the tenant's bucket and queue
    its parsing. The file counts against the storage quota; a refused or failed write leaves nothing."""
    name, filename = _checked_upload(name, filename, size)
    if disassembly is not None:
        _checked_upload(name, disassembly[0], disassembly[2], field="disassembly")
    tenant = current_tenant()
    profile = Profile(
        code=new_code(name, default="profile"),
        name=name,
        filename=filename,
        size=size,
        source=source,
        source_ref=source_ref,
    )
    written: list[str] = []
    try:
        profile.raw_key = file_key(f"profiles/{profile.code}/{filename}", field="file")
        upload_file(tenant, profile.raw_key, data, size, actor=actor)
        written.append(profile.raw_key)
        if disassembly is not None:
            dis_name = Path(disassembly[0].replace("\\", "/")).name
            profile.disassembly_key = file_key(f"profiles/{profile.code}/disassembly/{dis_name}")
            upload_file(tenant, profile.disassembly_key, disassembly[1], disassembly[2], actor=actor)
            written.append(profile.disassembly_key)
        with transaction.atomic():
            profile.created_by = actor if getattr(actor, "is_authenticated", False) else None
            profile.save()
            record_event("profile.created", actor=actor, tenant=tenant, target=profile.code, source=source)
            _queue_parse(profile)
    except BaseException:
        for key in written:
            _forget(key)
        raise
    return profile


def import_result_file(workset, key: str, *, actor, name: str = "") -> Profile:
    """A profile of a file the workset wrote to its results (read in place; never copied)."""
    if not workset.results_prefix or not key.startswith(workset.results_prefix) or ".." in key:
        raise ValidationError({"key": "Choose a file from this workset's results."})
    try:
        info = storage_of(current_tenant()).head(file_key(key))
    except ObjectNotFound as error:
        raise ValidationError({"key": "No such file in this workset's results."}) from error
    filename = Path(key).name
    name, filename = _checked_upload(name or f"{workset.name}: {filename}", filename, info.size, field="key")
    existing = Profile.objects.filter(source=Source.WORKSET, raw_key=info.key).first()
    if existing is not None:
        raise ValidationError({"key": f"This file is already the profile {existing.code}."})
    with transaction.atomic():
        profile = Profile.objects.create(
            name=name,
            filename=filename,
            size=info.size,
            raw_key=info.key,
            owns_raw=False,
            source=Source.WORKSET,
            source_ref=workset.code,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record_event(
            "profile.created", actor=actor, tenant=current_tenant(), target=profile.code, source="workset"
        )
        _queue_parse(profile)
    return profile


def find_result_profiles(workset, *, limit: int = MAX_RESULT_FILES) -> list[Profile]:
    """Profiles of the profiler files among a completed workset's results (judged by content, as uploads
    are), each imported once: a second call adds none. Called when a workset completes, and by the resend
    sweep for a completed workset whose search never ran (``profiles_searched_at`` still empty)."""
    found = _find_in_results(workset, limit) if workset.results_prefix else []
    Workset.objects.filter(pk=workset.pk).update(profiles_searched_at=timezone.now())
    return found


def _find_in_results(workset, limit: int) -> list[Profile]:
    known = set(
        Profile.objects.filter(source=Source.WORKSET, source_ref=workset.code).values_list(
            "raw_key", flat=True
        )
    )
    storage = storage_of(current_tenant())
    found = []
    for info in _objects_under(storage, workset.results_prefix, limit):
        if info.key in known or not 0 < info.size <= settings.RUNYARD_MAX_PROFILE_BYTES:
            continue
        if detect.detect_head(_head_of(storage, info.key)) is not None:
            try:
                found.append(import_result_file(workset, info.key, actor=None))
            except IntegrityError:  # a concurrent run imported it first
                continue
    return found


def _objects_under(storage, prefix: str, limit: int):
    folders, seen = [prefix], 0
    while folders and seen < limit:
        listing = storage.list(folders.pop())
        folders += listing.folders
        for info in listing.objects[: limit - seen]:
            seen += 1
            yield info


def _head_of(storage, key: str) -> bytes:
    chunks = storage.download(key, chunk_size=detect.HEAD_BYTES)
    try:
        head = next(chunks, b"")
    finally:
        chunks.close()
    if head[:2] == detect.GZIP_MAGIC:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, detect.HEAD_BYTES)
        except zlib.error:
            return b""
    return head


def reparse_profile(profile: Profile, *, actor) -> Profile:
    """Parse again (a newer Runyard, or a parse that failed on a storage error). Idempotent: the new
    parse gets the next attempt number and replaces the old tables only when it finishes."""
    with transaction.atomic():
        Profile.objects.filter(pk=profile.pk).update(
            attempt=F("attempt") + 1, state=State.PENDING, progress=0, error="", error_line=None
        )
        profile.refresh_from_db()
        record_event("profile.reparsed", actor=actor, tenant=current_tenant(), target=profile.code)
        _queue_parse(profile)
    return profile


def delete_profile(profile: Profile, *, actor) -> None:
    keys = [*profile.tables.values(), profile.disassembly_key, profile.raw_key if profile.owns_raw else ""]
    with transaction.atomic():
        profile.delete()
        record_event("profile.deleted", actor=actor, tenant=current_tenant(), target=profile.code)
    for key in filter(None, keys):
        _forget(key)


def _queue_parse(profile: Profile) -> None:
    """After commit, in this tenant's schema (named now: the callback may run after the schema changed)."""
    from analysis.services.waiting import send_after_commit
    from analysis.tasks import parse_profile_task

    send_after_commit(parse_profile_task, profile.code, profile.attempt)
    live.announce(profile)


def _forget(key: str) -> None:
    try:
        delete_file(current_tenant(), key, actor=None)
    except (Http404, StorageError, ValidationError):
        log.warning("could not delete %s", key, exc_info=True)


# -- parsing (the Celery task calls this) -----------------------------------------------------------------


class _Progress:
    """Writes the percentage to the row and the page at most every REPORT_EVERY_SECONDS."""

    def __init__(self, profile: Profile, total: int):
        self.profile, self.total, self.sent_at, self.percent = profile, max(total, 1), 0.0, 0

    def bytes_read(self, count: int) -> None:
        self.set(min(PARSE_SHARE, PARSE_SHARE * count // self.total))

    def set(self, percent: int) -> None:
        now = time.monotonic()
        if percent <= self.percent or now - self.sent_at < REPORT_EVERY_SECONDS:
            return
        self.percent, self.sent_at = percent, now
        Profile.objects.filter(pk=self.profile.pk, attempt=self.profile.attempt).update(progress=percent)
        self.profile.progress = percent
        live.announce(self.profile)


def parse_profile(code: str, attempt: int, *, redelivered: bool = False) -> Profile | None:
    """Parse attempt ``attempt`` of the profile: read the file from the bucket, detect its format, parse
    it (joined with its disassembly, if any), store the tables as Parquet, then mark it ready, unless a
    newer attempt was asked for meanwhile. A bad file marks it failed with the message and line.
    Only a waiting attempt is claimed, so a second send of the task does nothing; a ``redelivered`` one
    (its worker died while parsing) takes the parse over."""
    claimable = (State.PENDING, State.PARSING) if redelivered else (State.PENDING,)
    claimed = Profile.objects.filter(code=code, attempt=attempt, state__in=claimable).update(
        state=State.PARSING, progress=0
    )
    profile = Profile.objects.filter(code=code).first()
    if not claimed or profile is None:
        return profile
    live.announce(profile)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="runyard-profile-") as work:
            parsed, spec = _parse(profile, Path(work))
        keys = _store_tables(profile, parsed)
    except ProfileFormatError as error:
        _observe_parse(started, "failed")
        return _failed(profile, error.message, error.line_number or None)
    except (StorageError, ValidationError) as error:
        _observe_parse(started, "failed")
        message = "; ".join(getattr(error, "messages", [str(error)]))
        return _failed(profile, f"The file could not be read or the tables stored: {message}", None)
    _observe_parse(started, "ready")
    with transaction.atomic():
        done = Profile.objects.filter(pk=profile.pk, attempt=attempt, state=State.PARSING).update(
            state=State.READY,
            progress=100,
            format=spec.name,
            meta=store.meta_to_dict(parsed.meta),
            summary=_summary(parsed),
            tables=keys,
            parsed_at=timezone.now(),
        )
        if done:
            record_event("profile.parsed", tenant=current_tenant(), target=code, format=spec.name)
    profile.refresh_from_db()
    live.announce(profile)
    _remove_other_parses(profile, keep=keys.values() if done else ())
    return profile


def _observe_parse(started: float, outcome: str) -> None:
    PARSE_DURATION.labels(tenant_label(current_tenant()), outcome).observe(time.perf_counter() - started)


def _parse(profile: Profile, work: Path):
    raw = _download(profile.raw_key, work / "profile")
    raw = detect.ungzipped(raw)
    spec = detect.detect(raw)
    progress = _Progress(profile, raw.stat().st_size)
    parsed = detect.parse_path(raw, spec, progress.bytes_read)
    if profile.disassembly_key:
        parsed = _joined(parsed, _download(profile.disassembly_key, work / "disassembly"))
    progress.set(PARSE_SHARE)
    return parsed, spec


def _joined(parsed, path: Path):
    from analysis.profiles.objdump import join_disassembly, parse_objdump

    try:
        disassembly = parse_objdump(detect.ungzipped(path))
    except ProfileFormatError as error:
        raise ProfileFormatError(f"in the disassembly: {error.message}", error.line_number) from error
    return join_disassembly(parsed, disassembly)


def _download(key: str, target: Path) -> Path:
    with open(target, "wb") as sink:
        for chunk in storage_of(current_tenant()).download(key):
            sink.write(chunk)
    return target


def _store_tables(profile: Profile, parsed) -> dict[str, str]:
    keys = {}
    for name, frame in store.tables_of(parsed).items():
        data = store.table_to_parquet(frame)
        key = f"{profile.tables_prefix}{name}.parquet"
        upload_file(current_tenant(), key, BytesIO(data), len(data), actor=None, content_type=PARQUET)
        keys[name] = key
    return keys


def _summary(parsed) -> dict:
    from analysis.insights import summary

    return summary(parsed)


def _failed(profile: Profile, message: str, line: int | None) -> Profile:
    Profile.objects.filter(pk=profile.pk, attempt=profile.attempt, state=State.PARSING).update(
        state=State.FAILED, error=message[:2000], error_line=line
    )
    profile.refresh_from_db()
    live.announce(profile)
    return profile


def _remove_other_parses(profile: Profile, *, keep) -> None:
    """Tables of earlier (or, for a stale attempt, these very) parses: nobody reads them any more."""
    keep = set(keep)
    storage = storage_of(current_tenant())
    prefix = f"profiles/{profile.code}/"
    for folder in storage.list(prefix).folders:
        if not folder.startswith(f"{prefix}parsed-"):
            continue
        for item in storage.list(folder).objects:
            if item.key not in keep:
                _forget(item.key)
