"""A parsed profile as files and JSON: each table as Parquet, the metadata as a JSON object.

The portal keeps the tables in the tenant's bucket and the metadata in the database, and answers every
later question from these, never by parsing the upload again.
"""

from __future__ import annotations

import io
from dataclasses import asdict, fields

import pandas as pd

from analysis.profiles.model import Event, Profile, ProfileMeta

TABLES = ("functions", "lines", "instructions", "calls", "blocks", "mix")
_TUPLES = ("events", "positions", "descriptions", "notes")


def meta_to_dict(meta: ProfileMeta) -> dict:
    """JSON-safe; ``event_info`` is filled for every event, so readers never need the parser's defaults."""
    data = asdict(meta)
    data["event_info"] = {name: asdict(meta.event(name)) for name in meta.events}
    for name in _TUPLES:
        data[name] = list(data[name])
    return data


def meta_from_dict(data: dict) -> ProfileMeta:
    known = {item.name for item in fields(ProfileMeta)}
    values = {key: value for key, value in data.items() if key in known}
    for name in _TUPLES:
        if name in values:
            values[name] = tuple(values[name])
    values["event_info"] = {name: Event(**info) for name, info in values.get("event_info", {}).items()}
    return ProfileMeta(**values)


def table_to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    return buffer.getvalue()


def table_from_parquet(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))


def tables_of(profile: Profile) -> dict[str, pd.DataFrame]:
    return {name: getattr(profile, name) for name in TABLES}


def profile_from(meta: ProfileMeta, tables: dict[str, pd.DataFrame]) -> Profile:
    return Profile(meta=meta, **{name: tables[name] for name in TABLES if name in tables})
