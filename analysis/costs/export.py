"""CSV and Excel (xlsx) exports of the cost tables, as bytes ready to send.

CSV (``to_csv``): UTF-8 without a byte-order mark, comma-separated, CRLF line ends, quoted as RFC 4180
wants (Python's ``csv``), one header row with the caller's headers in the caller's column order.
Money columns (``is_money``) are written with two decimals, other floats in their shortest exact
form; a day (a timestamp at midnight) as ``2026-01-05``, other timestamps in ISO 8601; missing values
(None, NaN, NaT) as empty cells; lists as ``a; b``. A text cell beginning with ``= + - @``, a tab or a
carriage return gets a leading ``'`` so a spreadsheet opening the file never runs it as a formula
(team and model names come from uploaded files).

Excel (``to_xlsx``, written with XlsxWriter): one sheet per table, in the order given, named after its
key made valid (``sheet_name``: ``[ ] : * ? / \\`` become ``_``, at most 31 characters, not blank,
unique ignoring case). The header row is bold and frozen; money columns have the number format
``#,##0.00``, shares (``share_used``, ``utilisation``) ``0.0%``, days ``yyyy-mm-dd`` and other
timestamps ``yyyy-mm-dd hh:mm:ss`` (UTC: Excel has no time zones), all stored as real numbers and
dates, never text. Text is always written as text, so it is never taken for a formula.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

MONEY_COLUMNS = frozenset(
    {"cost", "provisional_cost", "budget_usd", "spent", "remaining", "daily_mean", "projected", "forecast",
     "lower", "upper", "total", "rate", "savings_usd"}
)  # fmt: skip
SHARE_COLUMNS = frozenset({"share_used", "utilisation"})
MAX_SHEET_NAME = 31
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_money(column: str) -> bool:
    """US-dollar columns: the known ones and any ``*_usd`` column."""
    return column in MONEY_COLUMNS or column.endswith("_usd")


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float | np.floating | Decimal) and not math.isfinite(value)


def _moment(value: Any) -> datetime | date:
    """A date, or a naive UTC datetime (a timestamp at midnight without a zone is a day)."""
    if isinstance(value, pd.Timestamp | datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            return stamp.tz_convert("UTC").tz_localize(None).to_pydatetime()
        return stamp.date() if stamp == stamp.normalize() else stamp.to_pydatetime()
    return value


def _safe_text(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_cell(value: Any, money: bool) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return _safe_text("; ".join(str(item) for item in value))
    if _missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating | Decimal):
        return f"{float(value):.2f}" if money else repr(float(value))
    if isinstance(value, pd.Timestamp | datetime | date):
        return _moment(value).isoformat()
    return _safe_text(str(value))


def to_csv(frame: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> bytes:
    """The ``columns`` (pairs of column name and header) of ``frame`` as CSV bytes."""
    missing = [name for name, _ in columns if name not in frame.columns]
    if missing:
        raise KeyError(f"no column(s) {', '.join(missing)} in the table")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([header for _, header in columns])
    names = [name for name, _ in columns]
    dollars = [is_money(name) for name in names]
    for row in frame[names].itertuples(index=False, name=None):
        writer.writerow([_csv_cell(value, money) for value, money in zip(row, dollars, strict=True)])
    return out.getvalue().encode("utf-8")


def sheet_name(name: str, taken: Iterable[str] = ()) -> str:
    """``name`` as a valid Excel sheet name, different (ignoring case) from the ``taken`` ones."""
    clean = _BAD_SHEET_CHARS.sub("_", str(name)).strip().strip("'").strip() or "Sheet"
    clean = clean[:MAX_SHEET_NAME]
    used = {existing.lower() for existing in taken}
    candidate, number = clean, 1
    while candidate.lower() in used or candidate.lower() == "history":  # Excel reserves "History"
        number += 1
        suffix = f" ({number})"
        candidate = clean[: MAX_SHEET_NAME - len(suffix)] + suffix
    return candidate


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook):
        self.header = book.add_format({"bold": True})
        self.money = book.add_format({"num_format": "#,##0.00"})
        self.share = book.add_format({"num_format": "0.0%"})
        self.day = book.add_format({"num_format": "yyyy-mm-dd"})
        self.moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})

    def number(self, column: str):
        return self.money if is_money(column) else self.share if column in SHARE_COLUMNS else None


def _write_cell(sheet, row: int, col: int, value: Any, column: str, formats: _Formats) -> None:
    if isinstance(value, list | tuple | set | frozenset):
        sheet.write_string(row, col, "; ".join(str(item) for item in value))
    elif _missing(value):
        return
    elif isinstance(value, bool | np.bool_):
        sheet.write_boolean(row, col, bool(value))
    elif isinstance(value, int | float | Decimal | np.integer | np.floating):
        sheet.write_number(row, col, float(value), formats.number(column))
    elif isinstance(value, pd.Timestamp | datetime | date):
        moment = _moment(value)
        if isinstance(moment, datetime):
            sheet.write_datetime(row, col, moment, formats.moment)
        else:
            sheet.write_datetime(row, col, datetime.combine(moment, time()), formats.day)
    else:
        sheet.write_string(row, col, str(value))


def _write_sheet(sheet, frame: pd.DataFrame, headers: Mapping[str, str], formats: _Formats) -> None:
    columns = [str(column) for column in frame.columns]
    for col, column in enumerate(columns):
        label = headers.get(column, column)
        sheet.write_string(0, col, label, formats.header)
        sheet.set_column(col, col, min(max(len(label), 10) + 2, 60))
    for row, values in enumerate(frame.itertuples(index=False, name=None), start=1):
        for col, value in enumerate(values):
            _write_cell(sheet, row, col, value, columns[col], formats)
    sheet.freeze_panes(1, 0)


def to_xlsx(sheets: Mapping[str, pd.DataFrame], *, headers: Mapping[str, str] | None = None) -> bytes:
    """An xlsx workbook with one sheet per table; ``headers`` maps column names to header labels."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    formats, names = _Formats(book), []
    for name, frame in sheets.items():
        names.append(sheet_name(name, names))
        _write_sheet(book.add_worksheet(names[-1]), frame, headers or {}, formats)
    if not names:
        book.add_worksheet("Sheet")  # a workbook needs one sheet to open
    book.close()
    return out.getvalue()


def cents(value: float) -> float:
    """US dollars rounded to cents, half up as on an invoice. The sums are float64 (error ~1e-12), so
    they are first rounded to micro-dollars: an exact half cent stays a half cent and rounds up."""
    return float(Decimal(f"{value:.6f}").quantize(Decimal("0.01"), ROUND_HALF_UP))
