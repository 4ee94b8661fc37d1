"""One member (CSV row by row, or Parquet) into a DataFrame of the table's kinds, refusing unknown
columns, missing required ones and cells that do not fit their kind."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.profiles.model import ProfileFormatError
from analysis.profiles.tabular.spec import (
    ADDRESS,
    COUNT,
    DTYPES,
    FLAG,
    MAX_INT,
    OPTIONAL_INT,
    TEXT,
    Table,
)


def _columns(member: str, header: list[str], spec: Table, is_counter: Callable[[str], bool]) -> list[str]:
    """Each header column's kind; refuses duplicates, unknown columns and missing required ones."""
    if len(set(header)) != len(header):
        raise ProfileFormatError(f"{member}: a column name appears twice", 1)
    kinds = []
    for column in header:
        if column in spec.columns:
            kinds.append(spec.columns[column])
        elif is_counter(column):
            kinds.append(COUNT)
        else:
            raise ProfileFormatError(
                f"{member}: unknown column {column!r} (not a key of this table, a canonical event "
                "or an event declared in the events table)",
                1,
            )
    missing = [column for column in spec.required if column not in header]
    if missing:
        raise ProfileFormatError(f"{member}: required column {', '.join(missing)} is missing", 1)
    return kinds


def read_csv(
    member: str, lines: Iterator[str], spec: Table, is_counter: Callable[[str], bool]
) -> pd.DataFrame:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ProfileFormatError(f"{member}: empty (no header row)", 1)
        kinds = _columns(member, header, spec, is_counter)
        values = _csv_values(member, reader, header, kinds)
    except (csv.Error, UnicodeDecodeError) as error:
        raise ProfileFormatError(f"{member}: malformed CSV ({error})", max(reader.line_num, 1)) from None
    return _frame(header, kinds, values, spec)


def _csv_values(member: str, reader, header: list[str], kinds: list[str]) -> list[list]:
    converters = [_CONVERTERS[kind] for kind in kinds]
    values: list[list] = [[] for _ in header]
    for row in reader:
        if len(row) != len(header):
            raise ProfileFormatError(
                f"{member}: {len(row)} fields for {len(header)} columns", reader.line_num
            )
        for index, (cell, convert) in enumerate(zip(row, converters, strict=True)):
            try:
                values[index].append(convert(cell))
            except ValueError as error:
                raise ProfileFormatError(
                    f"{member}: column {header[index]}: {error}", reader.line_num
                ) from None
    return values


def _count(cell: str) -> int:
    value = int(cell) if cell.strip().lstrip("+-").isdigit() else None
    if value is None:
        raise ValueError(f"{cell[:30]!r} is not an integer")
    if value < 0:
        raise ValueError(f"negative count {value}")
    if value > MAX_INT:
        raise ValueError(f"{value} does not fit in 64 bits")
    return value


def _address(cell: str) -> int:
    text = cell.strip().lower()
    if text.startswith("0x"):
        try:
            return _count(str(int(text, 16)))
        except ValueError:
            raise ValueError(f"{cell[:30]!r} is not an address") from None
    return _count(cell)


def _optional_int(cell: str) -> int | None:
    return None if cell == "" else _address(cell)


def _flag(cell: str) -> bool | None:
    text = cell.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    if text == "":
        return None
    raise ValueError(f"{cell[:30]!r} is not true or false")


_CONVERTERS: dict[str, Callable[[str], object]] = {
    TEXT: str,
    COUNT: _count,
    ADDRESS: _address,
    OPTIONAL_INT: _optional_int,
    FLAG: _flag,
}


def _frame(header: list[str], kinds: list[str], values: list[list], spec: Table) -> pd.DataFrame:
    data = {}
    for column, kind, column_values in zip(header, kinds, values, strict=True):
        if kind == TEXT and column in spec.optional_text:
            series = pd.Series(column_values, dtype="string").replace("", pd.NA)
        else:
            series = pd.Series(column_values, dtype=DTYPES[kind])
        data[column] = series
    frame = pd.DataFrame(data)
    for column, kind in spec.columns.items():  # optional key columns default to "" / nothing
        if column not in frame and kind == TEXT and column not in spec.optional_text:
            frame[column] = pd.Series([""] * len(frame), dtype="str")
        elif column not in frame and kind == COUNT and column == "instructions":
            frame[column] = pd.Series([0] * len(frame), dtype="int64")
    return frame


def read_parquet(member: str, data: bytes, spec: Table, is_counter: Callable[[str], bool]) -> pd.DataFrame:
    table = pq.read_table(io.BytesIO(data))
    header = list(table.column_names)
    kinds = _columns(member, header, spec, is_counter)
    values = []
    for column, kind in zip(header, kinds, strict=True):
        values.append(_parquet_values(member, column, kind, table.column(column)))
    return _frame(header, kinds, values, spec)


def _parquet_values(member: str, column: str, kind: str, array: pa.ChunkedArray) -> list:
    kind_ok = {
        TEXT: pa.types.is_string(array.type)
        or pa.types.is_large_string(array.type)
        or pa.types.is_null(array.type),
        FLAG: pa.types.is_boolean(array.type) or pa.types.is_null(array.type),
    }.get(kind, pa.types.is_integer(array.type) or (kind == OPTIONAL_INT and pa.types.is_null(array.type)))
    if not kind_ok:
        raise ProfileFormatError(f"{member}: column {column} has type {array.type}, not {kind}", 0)
    values = array.to_pylist()
    for row, value in enumerate(values):
        if value is None and kind in (COUNT, ADDRESS):
            raise ProfileFormatError(f"{member}: column {column} row {row}: empty", 0)
        if kind in (COUNT, ADDRESS, OPTIONAL_INT) and value is not None and not 0 <= value <= MAX_INT:
            raise ProfileFormatError(
                f"{member}: column {column} row {row}: {value} is negative or too large", 0
            )
    if kind == TEXT:
        return ["" if value is None else value for value in values]
    return values
