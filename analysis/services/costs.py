"""Use cases of cost data: ingest a file of teams and jobs or of rates, set or delete a rate, set a
team's budget.

An upload is stored in the tenant's bucket (``costs/ingests/<code>/<file>``, counted against the
storage quota) and read by ``analysis.tasks.ingest_costs_task``, streamed from the bucket: the pure
readers of ``analysis.costs`` decode one row at a time, and every ``BATCH_ROWS`` rows are applied in
one transaction under the tenant's cost lock (``analysis.services.cost_batches``), with the ingest's
counts, refused rows and progress saved in the same transaction. So a task redelivered after a crash
skips the batches already applied and goes on; running the same file again counts every row
unchanged and changes nothing. A file that is not what it claims to be (empty, CSV named .json, a
Heliox cost export given as rates, a broken JSON document) fails the ingest with the reason; the
batch being read when that was found is not applied.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from analysis import cost_live
from analysis.costs.rates import RateRecord, read_rates_csv
from analysis.costs.records import (
    JobRecord,
    RowError,
    TeamRecord,
    normalise_gpu_type,
    normalise_provider,
    read_csv,
    read_json,
    read_jsonl,
)
from analysis.models import CostIngest, RateSnapshot, Team
from analysis.models.costs import IngestKind, IngestState, RateSource
from analysis.rollups import lock_costs, reprice
from analysis.services import cost_batches
from tenants.access import current_tenant
from tenants.services.audit import record_event
from tenants.services.files import file_key, storage_of, upload_file
from tenants.storage import StorageError

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
MAX_FAILURES = 1000  # refused rows kept in the report; the count goes on
FORMATS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
SNIFF_BYTES = 4096


class IngestFailed(Exception):
    """The file as a whole cannot be ingested (the message says why, for the report)."""


# -- starting ----------------------------------------------------------------------------------------------


def _format_of(filename: str, head: bytes) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        first_line = text.split(b"\n", 1)[0].strip()
        return "jsonl" if first_line.endswith(b"}") and b"\n" in text else "json"
    return "csv"


def _checked(file, kind: str) -> tuple[str, int]:
    filename = Path((getattr(file, "name", "") or "").replace("\\", "/")).name
    size = int(getattr(file, "size", 0) or 0)
    errors = {}
    if kind not in IngestKind.values:
        errors["kind"] = f"kind must be one of: {', '.join(IngestKind.values)}."
    if not filename:
        errors["file"] = "The file needs a name."
    elif size <= 0:
        errors["file"] = "The file is empty."
    elif size > settings.RUNYARD_MAX_COST_INGEST_BYTES:
        limit = settings.RUNYARD_MAX_COST_INGEST_BYTES // 1024**2
        errors["file"] = f"The file is larger than the {limit} MB an ingest may have."
    if errors:
        raise ValidationError(errors)
    return filename, size


def start_cost_ingest(file, *, kind: str, actor) -> CostIngest:
    """Store ``file`` (an uploaded file: ``name``, ``size``, ``read``) in the tenant's bucket and queue
    its ingestion as ``kind`` ("jobs": teams and jobs; "rates": a rate CSV) once this commits."""
    filename, size = _checked(file, kind)
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    ingest = CostIngest(kind=kind, filename=filename, size=size, format=_format_of(filename, head))
    ingest.code = _new_code(filename)
    ingest.raw_key = file_key(f"costs/ingests/{ingest.code}/{filename}", field="file")
    tenant = current_tenant()
    upload_file(tenant, ingest.raw_key, file, size, actor=actor)
    with transaction.atomic():
        ingest.created_by = actor if getattr(actor, "is_authenticated", False) else None
        ingest.save()
        record_event("cost_ingest.created", actor=actor, tenant=tenant, target=ingest.code, kind=kind)
        _queue(ingest)
    return ingest


def _new_code(filename: str) -> str:
    from jobs.models import new_code

    return new_code(Path(filename).stem, default="ingest")


def _queue(ingest: CostIngest) -> None:
    from analysis.services.waiting import send_after_commit
    from analysis.tasks import ingest_costs_task

    send_after_commit(ingest_costs_task, ingest.code)
    cost_live.announce(ingest)


# -- running (the Celery task calls this) ------------------------------------------------------------------


class _Chunks(io.RawIOBase):
    """The bucket's byte chunks as a readable stream that counts the bytes handed out."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.pending, self.bytes_read = chunks, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            self.pending = next(self.chunks, b"")
            if not self.pending:
                return 0
        count = min(len(buffer), len(self.pending))
        buffer[:count], self.pending = self.pending[:count], self.pending[count:]
        self.bytes_read += count
        return count

    def close(self) -> None:
        getattr(self.chunks, "close", lambda: None)()
        super().close()


@dataclass
class _Batch:
    end: int = 0  # rows read up to and including this batch
    teams: list = field(default_factory=list)
    jobs: list = field(default_factory=list)
    rates: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def add(self, record) -> None:
        self.end += 1
        if isinstance(record, TeamRecord):
            self.teams.append((self.end, record))
        elif isinstance(record, JobRecord):
            self.jobs.append((self.end, record))
        elif isinstance(record, RateRecord):
            self.rates.append((self.end, record))
        else:
            self.errors.append(record)

    @property
    def size(self) -> int:
        return len(self.teams) + len(self.jobs) + len(self.rates) + len(self.errors)


def run_cost_ingest(code: str, *, redelivered: bool = False) -> CostIngest | None:
    """Read the ingest's file and apply it batch by batch; idempotent (see the module docstring). Only a
    waiting ingest is claimed, so a second send of the task does nothing; a ``redelivered`` one (its
    worker died) goes on where the ingest stopped."""
    claimable = (IngestState.PENDING, IngestState.RUNNING) if redelivered else (IngestState.PENDING,)
    claimed = CostIngest.objects.filter(code=code, state__in=claimable).update(state=IngestState.RUNNING)
    ingest = CostIngest.objects.filter(code=code).first()
    if not claimed or ingest is None:
        return ingest
    cost_live.announce(ingest)
    try:
        _read_and_apply(ingest)
    except IngestFailed as error:
        return _finish(ingest, IngestState.FAILED, str(error))
    except UnicodeDecodeError:
        return _finish(ingest, IngestState.FAILED, "The file is not UTF-8 text.")
    except StorageError as error:
        return _finish(ingest, IngestState.FAILED, f"The file could not be read from the bucket: {error}")
    return _finish(ingest, IngestState.DONE, "")


def _read_and_apply(ingest: CostIngest) -> None:
    raw = _Chunks(storage_of(current_tenant()).download(ingest.raw_key))
    buffered = io.BufferedReader(raw, buffer_size=1 << 16)
    try:
        _check_claim(ingest, buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES])
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
        batch, seen = _Batch(), 0
        for record in _records(ingest, text):
            if isinstance(record, RowError) and record.kind in ("document", "header"):
                raise IngestFailed(_whole_file_error(ingest, record))
            batch.add(record)
            seen += 1
            if batch.size >= BATCH_ROWS:
                _apply_batch(ingest, batch, raw.bytes_read)
                batch = _Batch(end=batch.end)
        if not seen:
            raise IngestFailed(
                f"The file holds no {'rates' if ingest.kind == IngestKind.RATES else 'teams or jobs'}."
            )
        _apply_batch(ingest, batch, raw.bytes_read)
    finally:
        raw.close()


def _check_claim(ingest: CostIngest, head: bytes) -> None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise IngestFailed("The file is empty.")
    starts_json = text[:1] in (b"{", b"[")
    if ingest.kind == IngestKind.RATES and (ingest.format != "csv" or starts_json):
        raise IngestFailed("Rate files are CSV with the columns date, provider, gpu_type, usd_per_gpu_hour.")
    if ingest.format in ("json", "jsonl") and not text.startswith(b"{"):
        raise IngestFailed(f"The file is named .{ingest.format} but does not start with a JSON object.")
    if ingest.format == "csv" and starts_json:
        raise IngestFailed("The file is named .csv but holds JSON; name it .json or .jsonl.")
    if ingest.kind == IngestKind.RATES and b"cost_usd" in text.split(b"\n", 1)[0].lower():
        raise IngestFailed(
            "This is a cost export (the daily bill per GPU type, cost_usd), not a rate file: a rate file "
            "gives usd_per_gpu_hour per date, provider and gpu_type."
        )


def _records(ingest: CostIngest, text) -> Iterator:
    if ingest.kind == IngestKind.RATES:
        return read_rates_csv(text)
    return {"json": read_json, "jsonl": read_jsonl, "csv": read_csv}[ingest.format](text)


def _whole_file_error(ingest: CostIngest, error: RowError) -> str:
    where = "the header" if error.kind == "header" else f"line {error.row_number}"
    return f"The file cannot be read as {ingest.format.upper()} ({where}): {error.message}"


def _apply_batch(ingest: CostIngest, batch: _Batch, bytes_read: int) -> None:
    with transaction.atomic():
        lock_costs()
        row = CostIngest.objects.select_for_update().get(pk=ingest.pk)
        if row.rows_done >= batch.end:  # applied by an earlier delivery of this task
            return
        counts = row.counts or {}
        refused = list(batch.errors)
        if batch.teams:
            team_counts, problems = cost_batches.apply_teams(batch.teams)
            _add(counts, "teams", team_counts)
            refused += problems
        if batch.jobs:
            job_counts, problems, teams_created = cost_batches.apply_jobs(batch.jobs, row.pk)
            _add(counts, "jobs", job_counts)
            _add(counts, "teams", {"created_for_jobs": teams_created})
            refused += problems
        if batch.rates:
            rate_counts, problems = cost_batches.apply_rates(batch.rates, row.created_by_id)
            _add(counts, "rates", rate_counts)
            refused += problems
        refused.sort(key=lambda error: error.row_number)
        row.failures = [*row.failures, *map(_failure, refused)][:MAX_FAILURES]
        row.failed += len(refused)
        row.counts, row.rows_done = counts, batch.end
        row.progress = min(99, bytes_read * 100 // max(row.size, 1))
        row.save(update_fields=["counts", "failures", "failed", "rows_done", "progress"])
        cost_live.announce(row)
        if batch.jobs or batch.rates:
            cost_live.costs_changed()


def _add(counts: dict, kind: str, more: dict) -> None:
    into = counts.setdefault(kind, {})
    for key, value in more.items():
        into[key] = into.get(key, 0) + value


def _failure(error: RowError) -> dict:
    return {"row": error.row_number, "kind": error.kind, "field": error.field, "message": error.message}


def _finish(ingest: CostIngest, state: str, error: str) -> CostIngest:
    changes = {"state": state, "error": error[:2000], "finished_at": timezone.now()}
    if state == IngestState.DONE:
        changes["progress"] = 100
    with transaction.atomic():
        CostIngest.objects.filter(pk=ingest.pk, state=IngestState.RUNNING).update(**changes)
        ingest.refresh_from_db()
        record_event(
            f"cost_ingest.{state}", tenant=current_tenant(), target=ingest.code, failed=ingest.failed
        )
        cost_live.announce(ingest)
    return ingest


# -- rates and budgets -------------------------------------------------------------------------------------


def _rate_key(day, provider: str, gpu_type: str) -> tuple[date, str, str]:
    errors = {}
    try:
        day = day if isinstance(day, date) else date.fromisoformat(str(day))
    except ValueError:
        errors["day"] = f"{day!r} is not an ISO date (YYYY-MM-DD)."
    for name, normalise, value in (
        ("provider", normalise_provider, provider),
        ("gpu_type", normalise_gpu_type, gpu_type),
    ):
        try:
            normalise(value)
        except ValueError as error:
            errors[name] = str(error)
    if errors:
        raise ValidationError(errors)
    return day, normalise_provider(provider), normalise_gpu_type(gpu_type)


def set_rate(day, provider: str, gpu_type: str, usd_per_gpu_hour, *, actor) -> RateSnapshot:
    """An operator's rate for one (day, provider, GPU type), replacing any; the rollups are repriced."""
    key = _rate_key(day, provider, gpu_type)
    try:
        usd = Decimal(str(usd_per_gpu_hour)).quantize(cost_batches.RATE_PLACES)
    except ArithmeticError:
        usd = Decimal("NaN")
    if not usd.is_finite() or usd < 0 or usd > cost_batches.MAX_RATE:
        raise ValidationError({"usd_per_gpu_hour": f"A number from 0 to {cost_batches.MAX_RATE}."})
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        lock_costs()
        rate, _ = RateSnapshot.objects.update_or_create(
            day=key[0],
            provider=key[1],
            gpu_type=key[2],
            defaults={"usd_per_gpu_hour": usd, "source": RateSource.OPERATOR, "updated_by": user},
        )
        reprice([key])
        record_event("cost_rate.set", actor=actor, tenant=current_tenant(), target=str(rate), usd=str(usd))
        cost_live.costs_changed(key[0], key[0])
    return rate


def delete_rate(day, provider: str, gpu_type: str, *, actor) -> None:
    """Remove a rate: the GPU-hours of that day and GPU type become unpriced again."""
    key = _rate_key(day, provider, gpu_type)
    with transaction.atomic():
        lock_costs()
        deleted, _ = RateSnapshot.objects.filter(day=key[0], provider=key[1], gpu_type=key[2]).delete()
        if not deleted:
            raise RateSnapshot.DoesNotExist(f"No rate for {key[0]} {key[1]} {key[2]}.")
        reprice([key])
        record_event(
            "cost_rate.deleted", actor=actor, tenant=current_tenant(), target=f"{key[0]} {key[1]} {key[2]}"
        )
        cost_live.costs_changed(key[0], key[0])


def set_team_budget(team: Team, budget, *, actor) -> Team:
    """A team's monthly budget in US dollars (None removes it)."""
    if budget is not None:
        try:
            budget = Decimal(str(budget)).quantize(cost_batches.CENTS)
        except ArithmeticError:
            budget = Decimal("NaN")
        if not budget.is_finite() or budget < 0 or budget > cost_batches.MAX_BUDGET:
            raise ValidationError({"budget_usd": f"A number from 0 to {cost_batches.MAX_BUDGET}, or empty."})
    with transaction.atomic():
        team.budget_usd = budget
        team.save(update_fields=["budget_usd", "updated"])
        record_event(
            "cost_team.budget_set", actor=actor, tenant=current_tenant(), target=team.name, budget=str(budget)
        )
        cost_live.costs_changed()
    return team
