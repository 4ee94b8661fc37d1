"""Writing a ``Profile`` as a Runyard tabular profile ZIP."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.profiles.model import Profile
from analysis.profiles.tabular.spec import MAGIC, MARKER, ORDER, TABLES, VERSION


def write_tabular(profile: Profile, path: str | Path, *, format: str = "csv") -> None:  # noqa: A002
    """Write ``profile`` as a Runyard tabular profile ZIP (``format``: csv or parquet)."""
    if format not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, not {format!r}")
    tables = _tables(profile)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(MARKER), f"{MAGIC} {VERSION}\n", compress_type=zipfile.ZIP_STORED)
        for name in ORDER:
            frame = tables.get(name)
            if frame is None:
                continue
            archive.writestr(f"{name}.{format}", _encode(frame, format), compress_type=zipfile.ZIP_DEFLATED)


def _tables(profile: Profile) -> dict[str, pd.DataFrame]:
    meta = profile.meta
    events = list(meta.events)
    rows = [("tool", meta.tool), ("command", meta.command), ("creator", meta.creator)]
    rows += [("note", note) for note in meta.notes]
    info = [meta.event(event) for event in events]
    functions = profile.functions.rename(columns={f"self_{event}": event for event in events})
    counters = {*events, *(f"incl_{event}" for event in events)}
    functions = functions[[c for c in functions.columns if c in TABLES["functions"].columns or c in counters]]
    tables = {
        "meta": pd.DataFrame(rows, columns=["key", "value"]),
        "events": pd.DataFrame(
            [(e.name, e.canonical, e.kind, e.unit, e.label) for e in info],
            columns=["name", "canonical", "kind", "unit", "label"],
        ),
        "functions": functions,
    }
    for name in ("lines", "instructions", "calls", "blocks", "mix"):
        frame = getattr(profile, name)
        if len(frame):
            known = TABLES[name].columns
            tables[name] = frame[[column for column in frame.columns if column in known or column in events]]
    return tables


def _encode(frame: pd.DataFrame, format: str) -> bytes:  # noqa: A002
    if format == "csv":
        return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()
