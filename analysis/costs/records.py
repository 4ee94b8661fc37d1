"""Readers of external job metadata (Heliox-shaped): one validated record or one error per row.

Formats
-------
JSON (``read_json``)
    ``{"teams": [{name, description, budget_usd}], "jobs": [{job_id, team_name, model_name, provider,
    gpu_type, gpu_count, start_time, end_time, status}]}``, streamed (``json_stream``): one row is
    decoded at a time, so a 1M-job file never becomes one Python object. Rows come in document order
    (Heliox writes teams first); other top-level keys are ignored.
JSON Lines (``read_jsonl``)
    One object per line: a job when it has a ``job_id`` key, otherwise a team. Blank lines are skipped.
CSV (``read_csv``)
    A header row naming the fields (any order, case-insensitive, extra columns ignored). A header with
    ``job_id`` makes it a jobs file, one with ``name`` (and no ``job_id``) a teams file.

Rows are numbered as a person finds them: the file line for CSV (the header is line 1) and JSON Lines,
the 1-based position in its array (``teams`` or ``jobs``, see ``RowError.kind``) for JSON. A reader
never stops at a bad row: it yields a ``RowError`` naming the row, the first bad field and why, and
goes on, so the caller can report inserted / updated / unchanged / failed per row. Reading the same
input twice yields equal records (plain frozen dataclasses, compared by value).

Normalisation
-------------
- ``provider``, ``gpu_type``, ``status``: whitespace trimmed, lower-cased, and must be one of
  ``PROVIDERS``, ``GPU_TYPES``, ``STATUSES`` (an unknown value is an error listing the allowed ones).
- ``model_name``: trimmed and lower-cased (``LLaMA-2-7B`` and ``llama-2-7b`` are one model).
- ``team_name``/``name``, ``job_id``, ``description``: trimmed, inner runs of whitespace made one
  space; case is kept (it is a label), so idempotence by name is exact after trimming.
- ``start_time``/``end_time``: ISO 8601 with a zone (``Z`` or ``+02:00``), converted to UTC; a naive
  timestamp is refused, since the hour it names is unknown. ``end_time`` may be empty only for
  ``pending`` and ``running`` jobs and must not precede ``start_time``.
- ``gpu_count``: a positive integer. ``budget_usd``: a ``Decimal`` ≥ 0 in US dollars, or empty (no
  budget set; never silently dropped).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from analysis.costs.json_stream import CHUNK_CHARS, NESTED_TOO_DEEPLY, JsonStreamError, iter_array_items

PROVIDERS = ("aws", "gcp", "azure", "oci", "lambda", "coreweave", "on-prem")
GPU_TYPES = ("a100", "h100", "h200", "b200", "l4", "l40s", "a10g", "v100", "t4", "mi300x")
STATUSES = ("pending", "running", "completed", "failed", "cancelled")
OPEN_STATUSES = ("pending", "running")  # may have no end_time yet; their cost is provisional

JOB_FIELDS = (
    "job_id",
    "team_name",
    "model_name",
    "provider",
    "gpu_type",
    "gpu_count",
    "start_time",
    "end_time",
    "status",
)
TEAM_FIELDS = ("name", "description", "budget_usd")
_REQUIRED_TEAM_FIELDS = ("name",)


@dataclass(frozen=True, slots=True)
class TeamRecord:
    name: str
    description: str
    budget_usd: Decimal | None


@dataclass(frozen=True, slots=True)
class JobRecord:
    job_id: str
    team_name: str
    model_name: str
    provider: str
    gpu_type: str
    gpu_count: int
    start_time: datetime  # UTC
    end_time: datetime | None  # UTC; None while pending/running
    status: str


@dataclass(frozen=True, slots=True)
class RowError:
    row_number: int
    field: str | None  # None when the row as a whole is wrong (not an object, bad JSON)
    message: str
    kind: str = "job"  # "job" or "team": which list the row belongs to


Record = TeamRecord | JobRecord | RowError


class _Invalid(Exception):
    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- field normalisers -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.split())
    if value is None:
        return ""
    if not isinstance(value, int | Decimal | float):
        raise TypeError
    return str(value)


def _required_text(row: Mapping[str, Any], field: str) -> str:
    try:
        text = _text(row.get(field))
    except TypeError:
        raise _Invalid(field, f"{field} must be a string") from None
    if not text:
        raise _Invalid(field, f"{field} is required")
    return text


def _choice(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if text not in allowed:
        raise _Invalid(field, f"{field} {value!r} is not one of: {', '.join(allowed)}")
    return text


def normalise_provider(value: Any) -> str:
    """The canonical provider name, or ValueError naming the allowed ones (also for rate files)."""
    try:
        return _choice(value, "provider", PROVIDERS)
    except _Invalid as exc:
        raise ValueError(exc.message) from None


def normalise_gpu_type(value: Any) -> str:
    """The canonical GPU type, or ValueError naming the allowed ones (also for rate files)."""
    try:
        return _choice(value, "gpu_type", GPU_TYPES)
    except _Invalid as exc:
        raise ValueError(exc.message) from None


def normalise_status(value: Any) -> str:
    """The canonical job status, or ValueError naming the allowed ones."""
    try:
        return _choice(value, "status", STATUSES)
    except _Invalid as exc:
        raise ValueError(exc.message) from None


def parse_timestamp(value: Any, field: str = "timestamp") -> datetime | None:
    """An aware ISO-8601 timestamp converted to UTC; None for an empty value; ValueError if naive."""
    if isinstance(value, datetime):
        moment = value
    else:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise ValueError(f"{field} must be an ISO 8601 string, got {value!r}")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{field} {value!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{field} {value!r} has no time zone (add Z or an offset such as +00:00)")
    return moment.astimezone(UTC)


def _timestamp(row: Mapping[str, Any], field: str) -> datetime | None:
    try:
        return parse_timestamp(row.get(field), field)
    except ValueError as exc:
        raise _Invalid(field, str(exc)) from None


def _positive_int(value: Any, field: str) -> int:
    number: Any = value
    if isinstance(value, str):
        number = value.strip()
        number = int(number) if number.isascii() and number.isdigit() else None
    elif isinstance(value, Decimal | float):
        number = int(value) if math.isfinite(value) and value == int(value) else None
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise _Invalid(field, f"{field} must be a positive integer, got {value!r}")
    return number


def _money(value: Any, field: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _Invalid(field, f"{field} must be a number, got {value!r}")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except (InvalidOperation, TypeError):
        raise _Invalid(field, f"{field} must be a number, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise _Invalid(field, f"{field} must be a finite number ≥ 0, got {value!r}")
    return amount


# --- row validation ----------------------------------------------------------------------------------


def _job(row: Mapping[str, Any]) -> JobRecord:
    job_id = _required_text(row, "job_id")
    team_name = _required_text(row, "team_name")
    model_name = _required_text(row, "model_name").lower()
    provider = _choice(row.get("provider"), "provider", PROVIDERS)
    gpu_type = _choice(row.get("gpu_type"), "gpu_type", GPU_TYPES)
    gpu_count = _positive_int(row.get("gpu_count"), "gpu_count")
    status = _choice(row.get("status"), "status", STATUSES)
    start = _timestamp(row, "start_time")
    if start is None:
        raise _Invalid("start_time", "start_time is required")
    end = _timestamp(row, "end_time")
    if end is None and status not in OPEN_STATUSES:
        raise _Invalid("end_time", f"end_time is required for a {status} job")
    if end is not None and end < start:
        raise _Invalid("end_time", f"end_time {end.isoformat()} is before start_time {start.isoformat()}")
    return JobRecord(job_id, team_name, model_name, provider, gpu_type, gpu_count, start, end, status)


def _team(row: Mapping[str, Any]) -> TeamRecord:
    name = _required_text(row, "name")
    try:
        description = _text(row.get("description"))
    except TypeError:
        raise _Invalid("description", "description must be a string") from None
    return TeamRecord(name, description, _money(row.get("budget_usd"), "budget_usd"))


def validate_job(row: Any, row_number: int) -> JobRecord | RowError:
    """One job row (a mapping of field → raw value) as a record, or the reason it is refused."""
    return _validated(row, row_number, _job, "job")


def validate_team(row: Any, row_number: int) -> TeamRecord | RowError:
    """One team row (a mapping of field → raw value) as a record, or the reason it is refused."""
    return _validated(row, row_number, _team, "team")


def _validated(row: Any, row_number: int, build: Any, kind: str) -> Any:
    if not isinstance(row, Mapping):
        return RowError(row_number, None, f"a {kind} must be an object, got {type(row).__name__}", kind)
    try:
        return build(row)
    except _Invalid as exc:
        return RowError(row_number, exc.field, exc.message, kind)


# --- readers -----------------------------------------------------------------------------------------


def read_json(stream: TextIO | str, *, chunk_chars: int = CHUNK_CHARS) -> Iterator[Record]:
    """Teams and jobs of one JSON document (a text stream or its text), in document order, streamed:
    one array item is decoded at a time. A syntax error ends the reading with a ``RowError`` of kind
    ``document`` whose ``row_number`` is the file line."""
    validators = {"teams": validate_team, "jobs": validate_job}
    try:
        for key, number, row in iter_array_items(
            io.StringIO(stream) if isinstance(stream, str) else stream, chunk_chars=chunk_chars
        ):
            validate = validators.get(key)
            if validate is not None and number == 0 and row is not None:
                yield RowError(1, key, f"'{key}' must be a list", key.rstrip("s"))
            elif validate is not None and number:
                yield validate(row, number)
    except JsonStreamError as exc:
        yield RowError(exc.line, None, f"not valid JSON: {exc}", "document")


def read_jsonl(lines: Iterable[str]) -> Iterator[Record]:
    """One record per line of JSON Lines, read lazily: a row with ``job_id`` is a job, else a team."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            yield RowError(number, None, f"not valid JSON: {exc.msg}")
            continue
        except RecursionError:
            yield RowError(number, None, f"not valid JSON: {NESTED_TOO_DEEPLY}")
            continue
        if isinstance(row, Mapping) and "job_id" not in row:
            yield validate_team(row, number)
        else:
            yield validate_job(row, number)


def csv_syntax_ends(reader, records: Iterator[Any]) -> Iterator[Any]:
    """``records`` read through ``reader``, where a CSV syntax error (a quote never closed swallows the rest
    of the file until the field size limit) ends the reading with a ``document`` RowError on its line."""
    try:
        yield from records
    except csv.Error as exc:
        yield RowError(reader.line_num, None, f"not valid CSV: {exc}", "document")


def read_csv(lines: Iterable[str]) -> Iterator[Record]:
    """Jobs or teams of a CSV file with a header row, read lazily (open the file with ``newline=""``)."""
    reader = csv.reader(iter(lines))
    return csv_syntax_ends(reader, _csv_records(reader))


def _csv_records(reader) -> Iterator[Record]:
    header = [name.strip().lower() for name in next(reader, [])]
    if "job_id" in header:
        kind, required, validate = "job", JOB_FIELDS, validate_job
    elif "name" in header:
        kind, required, validate = "team", _REQUIRED_TEAM_FIELDS, validate_team
    else:
        yield RowError(1, None, "the header must name job_id (a jobs file) or name (a teams file)", "header")
        return
    missing = [field for field in required if field not in header]
    if missing:
        yield RowError(1, missing[0], f"the header lacks column(s): {', '.join(missing)}", "header")
        return
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            yield RowError(reader.line_num, None, f"{len(cells)} cells for {len(header)} columns", kind)
            continue
        yield validate(dict(zip(header, cells, strict=False)), reader.line_num)
