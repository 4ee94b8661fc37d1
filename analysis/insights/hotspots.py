"""Where the cost is: top functions, source lines or basic blocks by one event.

The default event is cycles when the profile measured them, else instructions, else samples or
time (``figures.primary_event``): instructions are not time, so each row also carries the CPI when
cycles and instructions were both measured, and for callgrind/cachegrind KCachegrind's estimated
cycles (``CEst``), labelled ``estimated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.insights.figures import (
    AsDict,
    Figure,
    as_number,
    count,
    missing,
    program_total,
    ratio,
    resolve_event,
    share,
)
from analysis.profiles.model import Profile, ProfileMeta

BY = ("function", "line", "block")
# KCachegrind's CEst (GlobalConfig::knownFormula): Ir + 10·Bm + 10·L1m + 20·Ge + 100·L2m + 100·LLm.
CEST_WEIGHTS = (
    ("Ir", 1),
    ("Bcm", 10),
    ("Bim", 10),
    ("I1mr", 10),
    ("D1mr", 10),
    ("D1mw", 10),
    ("Ge", 20),
    ("L2m", 100),
    ("ILmr", 100),
    ("DLmr", 100),
    ("DLmw", 100),
)
CEST_TOOLS = ("callgrind", "cachegrind")


@dataclass(frozen=True)
class Hotspot(AsDict):
    rank: int
    function: str
    object: str
    file: str
    line: int | None
    address: int | None
    self: Figure
    inclusive: Figure
    self_share: Figure
    inclusive_share: Figure
    cpi: Figure
    estimated_cycles: Figure


@dataclass(frozen=True)
class Hotspots(AsDict):
    by: str
    event: str
    kind: str
    total: Figure
    rows: tuple[Hotspot, ...]
    notes: tuple[str, ...] = ()


def hotspots(
    profile: Profile, *, by: str = "function", event: str | None = None, limit: int = 20
) -> Hotspots:
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, not {by!r}")
    meta = profile.meta
    name = resolve_event(meta, event)
    total_value = program_total(meta, profile.functions, name)
    total = count(meta, name, total_value, where=f"sum of self {name} over all functions")
    frame, notes = _table(profile, by, name)
    if frame.empty:
        return Hotspots(by, name, meta.event(name).kind, total, (), notes)
    column = f"self_{name}" if by == "function" else name
    top = frame.sort_values(column, ascending=False, kind="stable").head(limit)
    top = top[top[column] > 0]
    rows = tuple(
        _row(meta, by, name, total_value, rank, record)
        for rank, record in enumerate(top.to_dict("records"), 1)
    )
    return Hotspots(by, name, meta.event(name).kind, total, rows, notes)


def _table(profile: Profile, by: str, event: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    if by == "function":
        return profile.functions, ()
    frame = profile.lines if by == "line" else profile.blocks
    if frame.empty:
        source = "source lines" if by == "line" else "basic blocks"
        return frame, (f"not measured: this profile has no {source}",)
    if event not in frame:
        return frame.iloc[0:0], (f"not measured: the {by} table has no {event} column",)
    return frame, ()


def _row(meta: ProfileMeta, by: str, event: str, total: Any, rank: int, record: dict) -> Hotspot:
    prefix = "self_" if by == "function" else ""
    self_value = record[f"{prefix}{event}"]
    where = "functions" if by == "function" else ("lines" if by == "line" else "blocks")
    self_fig = count(meta, event, self_value, where=f"{where}.{prefix}{event}")
    if by == "function":
        incl_value = record.get(f"incl_{event}")
        inclusive = count(meta, event, incl_value, where=f"functions.incl_{event}")
        inclusive_share = share(meta, event, incl_value, total, column=f"incl_{event}")
    else:
        inclusive = inclusive_share = missing("inclusive", f"inclusive costs for single {by}s")
    return Hotspot(
        rank=rank,
        function=str(record.get("function", "")),
        object=str(record.get("object", "")),
        file=str(record.get("file", "") or ""),
        line=as_number(record.get("line")) if by == "line" else None,
        address=as_number(record.get("address")) if by == "block" else None,
        self=self_fig,
        inclusive=inclusive,
        self_share=share(meta, event, self_value, total, column=f"{prefix}{event}"),
        inclusive_share=inclusive_share,
        cpi=cpi(meta, record, prefix),
        estimated_cycles=estimated_cycles(meta, record, prefix),
    )


def cpi(meta: ProfileMeta, values: Mapping[str, Any], prefix: str = "self_") -> Figure:
    """Cycles per instruction, only when both were measured (callgrind has neither cycles nor CPI)."""
    cycles, instructions = meta.event_for("cycles"), meta.event_for("instructions")
    if cycles is None or instructions is None:
        need = "cycles event" if cycles is None else "instructions event"
        return missing("cycles / instructions", need)
    return ratio(
        meta,
        (cycles, instructions),
        values.get(f"{prefix}{cycles}"),
        values.get(f"{prefix}{instructions}"),
        formula=f"{cycles} / {instructions}",
        unit="cycles per instruction",
    )


def estimated_cycles(meta: ProfileMeta, values: Mapping[str, Any], prefix: str = "self_") -> Figure:
    """KCachegrind's CEst for callgrind/cachegrind with cache or branch simulation; an estimate."""
    present = [(event, weight) for event, weight in CEST_WEIGHTS if event in meta.events]
    if meta.tool not in CEST_TOOLS or "Ir" not in meta.events or len(present) < 2:
        return missing("CEst", "callgrind cache or branch simulation (CEst needs Ir and miss events)")
    total = 0
    for event, weight in present:
        value = as_number(values.get(f"{prefix}{event}"))
        if value is None:
            return missing("CEst", f"{event} for this row")
        total += weight * value
    formula = " + ".join(event if weight == 1 else f"{weight}·{event}" for event, weight in present)
    events = tuple(event for event, _ in present)
    note = "KCachegrind's estimate from simulated misses, not measured cycles"
    return Figure(total, events, "estimated", formula=formula, unit="cycles", note=note)
