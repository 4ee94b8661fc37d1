"""Figures: a number together with the events, rows and formula it came from.

Every insight is built from ``Figure``s so a page can print the kind (exact, sampled, simulated,
measured, estimated) next to the value and show the numerator and denominator on demand. A figure
whose inputs the profile does not have has ``value=None`` and a note saying what is missing: insights
never fill a gap with 0 or a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import pandas as pd

from analysis.profiles.model import ProfileMeta

# How far a figure is from a plain count of the run; a ratio is as weak as its weakest input.
KIND_ORDER = {"exact": 0, "measured": 1, "simulated": 2, "sampled": 3, "estimated": 4}
# The event insights rank by when none is asked for: time-like first, Ir-like next.
PRIMARY_CANONICAL = ("cycles", "instructions", "samples", "time_ns")


def to_dict(value: Any) -> Any:
    """JSON-safe copy: dataclasses become dicts, tuples lists, numpy scalars Python numbers, NaN None."""
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: to_dict(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, dict):
        return {str(key): to_dict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dict(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class AsDict:
    def as_dict(self) -> dict[str, Any]:
        return to_dict(self)


@dataclass(frozen=True)
class Figure(AsDict):
    """``value`` computed by ``formula`` from ``events`` (columns of the profile's tables)."""

    value: int | float | None
    events: tuple[str, ...]
    kind: str
    formula: str = ""
    numerator: int | float | None = None
    denominator: int | float | None = None
    unit: str = "count"
    note: str = ""

    @property
    def measured(self) -> bool:
        return self.value is not None


def missing(what: str, need: str) -> Figure:
    return Figure(None, (), "", formula=what, note=f"not measured: the profile has no {need}")


def kind_of(meta: ProfileMeta, events: tuple[str, ...] | list[str]) -> str:
    return weakest(*(meta.event(name).kind for name in events))


def weakest(*kinds: str) -> str:
    return max(kinds, key=lambda kind: KIND_ORDER.get(kind, 5)) if kinds else ""


def count(meta: ProfileMeta, event: str, value: Any, *, where: str = "") -> Figure:
    number = as_number(value)
    note = "" if number is not None else "not measured for this row"
    return Figure(number, (event,), meta.event(event).kind, formula=where or event, note=note)


def ratio(
    meta: ProfileMeta,
    events: tuple[str, ...],
    numerator: Any,
    denominator: Any,
    *,
    formula: str,
    scale: float = 1.0,
    unit: str = "ratio",
) -> Figure:
    """``scale · numerator / denominator``; None (with the reason) when the denominator is 0 or absent."""
    top, bottom = as_number(numerator), as_number(denominator)
    kind = kind_of(meta, events)
    if top is None or bottom is None:
        return Figure(None, events, kind, formula, top, bottom, unit, "not measured for this row")
    if bottom == 0:
        return Figure(None, events, kind, formula, top, bottom, unit, "undefined: the denominator is 0")
    return Figure(scale * top / bottom, events, kind, formula, top, bottom, unit)


def as_number(value: Any) -> int | float | None:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    if value is pd.NA:
        return None
    return int(value) if isinstance(value, (int, bool)) else value


def primary_event(meta: ProfileMeta) -> str | None:
    """The event hot code is ranked by: cycles when measured, else instructions, samples, time."""
    for canonical in PRIMARY_CANONICAL:
        name = meta.event_for(canonical)
        if name:
            return name
    return meta.events[0] if meta.events else None


def resolve_event(meta: ProfileMeta, event: str | None) -> str:
    """A column name of this profile for ``event`` (a column name or a canonical meaning)."""
    if event is None:
        chosen = primary_event(meta)
        if chosen is None:
            raise ValueError("the profile has no events")
        return chosen
    if event in meta.events:
        return event
    name = meta.event_for(event)
    if name is None:
        raise ValueError(f"event {event!r} is not in this profile (it has {', '.join(meta.events)})")
    return name


def program_total(meta: ProfileMeta, frame: pd.DataFrame, event: str) -> int | float:
    """The file's total for ``event`` (sum of self costs); the table's own sum if the file has none."""
    if event in meta.totals:
        return meta.totals[event]
    column = f"self_{event}" if f"self_{event}" in frame else event
    return as_number(frame[column].sum()) or 0


def share(meta: ProfileMeta, event: str, value: Any, total: Any, *, column: str) -> Figure:
    return ratio(meta, (event,), value, total, formula=f"{column} / total {event}", unit="share")
