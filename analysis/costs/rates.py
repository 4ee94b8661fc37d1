"""Rate snapshots: US dollars per GPU-hour for one (UTC day, provider, gpu_type).

CSV (``read_rates_csv``): a header row naming ``date, provider, gpu_type, usd_per_gpu_hour`` (any order,
case-insensitive, extra columns ignored). ``date`` is an ISO date (``2026-01-14``), the UTC day the rate
applies to; ``provider`` and ``gpu_type`` are normalised like job rows (``records.PROVIDERS``,
``records.GPU_TYPES``); ``usd_per_gpu_hour`` is a ``Decimal`` ≥ 0. Rows are numbered by file line.

One key must have one rate: a second row for a (date, provider, gpu_type) already read is refused
(``RowError`` naming the first line), since pricing a day twice is how totals get double-counted.
Heliox's cost export (``date, provider, gpu_type, cost_usd``: the whole daily bill of a GPU type) is not
a rate and is refused by the header check rather than misread.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from analysis.costs.records import RowError, csv_syntax_ends, normalise_gpu_type, normalise_provider

RATE_FIELDS = ("date", "provider", "gpu_type", "usd_per_gpu_hour")


@dataclass(frozen=True, slots=True)
class RateRecord:
    day: date
    provider: str
    gpu_type: str
    usd_per_gpu_hour: Decimal

    @property
    def key(self) -> tuple[date, str, str]:
        return (self.day, self.provider, self.gpu_type)


def _rate_row(row: Mapping[str, Any]) -> RateRecord:
    """A RateRecord, or ValueError whose first argument is the field at fault and the second why."""
    raw_day = str(row.get("date") or "").strip()
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise ValueError("date", f"date {raw_day!r} is not an ISO date (YYYY-MM-DD)") from None
    for field, normalise in (("provider", normalise_provider), ("gpu_type", normalise_gpu_type)):
        try:
            normalise(row.get(field))
        except ValueError as exc:
            raise ValueError(field, str(exc)) from None
    raw_rate = str(row.get("usd_per_gpu_hour") or "").strip()
    try:
        rate = Decimal(raw_rate)
    except InvalidOperation:
        rate = Decimal("NaN")
    if not rate.is_finite() or rate < 0:
        raise ValueError("usd_per_gpu_hour", f"usd_per_gpu_hour must be a number ≥ 0, got {raw_rate!r}")
    return RateRecord(
        day, normalise_provider(row.get("provider")), normalise_gpu_type(row.get("gpu_type")), rate
    )


def validate_rate(row: Mapping[str, Any], row_number: int) -> RateRecord | RowError:
    """One rate row (field → raw value) as a record, or the reason it is refused."""
    try:
        return _rate_row(row)
    except ValueError as exc:
        field, message = exc.args
        return RowError(row_number, field, message, "rate")


def read_rates_csv(lines: Iterable[str]) -> Iterator[RateRecord | RowError]:
    """Rates of a CSV file with a header row, read lazily; a repeated key is an error, not a second rate."""
    reader = csv.reader(iter(lines))
    return csv_syntax_ends(reader, _rates(reader))


def _rates(reader) -> Iterator[RateRecord | RowError]:
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [field for field in RATE_FIELDS if field not in header]
    if missing:
        yield RowError(1, missing[0], f"the header lacks column(s): {', '.join(missing)}", "header")
        return
    first_line: dict[tuple[date, str, str], int] = {}
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        record = validate_rate(dict(zip(header, cells, strict=False)), reader.line_num)
        if isinstance(record, RateRecord):
            seen = first_line.setdefault(record.key, reader.line_num)
            if seen != reader.line_num:
                record = RowError(
                    reader.line_num, "date", f"a rate for {_label(record)} is already on line {seen}", "rate"
                )
        yield record


def _label(record: RateRecord) -> str:
    return f"{record.day.isoformat()} {record.provider} {record.gpu_type}"


def rate_mapping(records: Iterable[RateRecord | RowError]) -> dict[tuple[date, str, str], Decimal]:
    """The ``(day, provider, gpu_type) → $/GPU-hour`` mapping ``job_cost`` reads (errors skipped)."""
    return {record.key: record.usd_per_gpu_hour for record in records if isinstance(record, RateRecord)}
