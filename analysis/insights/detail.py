"""One function in depth: its cost in every event, instruction mix, memory figures, hottest lines and
instructions, and who calls it and whom it calls (counts and inclusive costs from the calls table)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.insights.figures import AsDict, Figure, as_number, count, primary_event, program_total, share
from analysis.insights.hotspots import estimated_cycles
from analysis.insights.memory import memory_figures
from analysis.insights.vectorization import instruction_classes
from analysis.profiles.model import Profile, ProfileMeta

TOP = 10


@dataclass(frozen=True)
class EventCost(AsDict):
    event: str
    canonical: str
    kind: str
    self: Figure
    inclusive: Figure
    self_share: Figure


@dataclass(frozen=True)
class Edge(AsDict):
    function: str
    object: str
    calls: int
    cost: Figure


@dataclass(frozen=True)
class FunctionDetail(AsDict):
    function: str
    object: str
    file: str
    event: str | None
    costs: tuple[EventCost, ...]
    estimated_cycles: Figure
    mix: dict[str, dict]
    memory: dict[str, Figure]
    top_lines: tuple[dict, ...]
    top_instructions: tuple[dict, ...]
    callers: tuple[Edge, ...]
    callees: tuple[Edge, ...]
    notes: tuple[str, ...] = ()


def function_detail(profile: Profile, function: str, *, object: str | None = None) -> FunctionDetail:
    meta = profile.meta
    event = primary_event(meta)
    record, notes = _find(profile, function, object, event)
    obj = str(record["object"])
    return FunctionDetail(
        function=function,
        object=obj,
        file=str(record.get("file", "") or ""),
        event=event,
        costs=tuple(_event_cost(profile, record, name) for name in meta.events),
        estimated_cycles=estimated_cycles(meta, record),
        mix=_mix(profile, function, obj),
        memory=memory_figures(meta, record),
        top_lines=_top_lines(profile, function, obj, event),
        top_instructions=_top_instructions(profile, function, obj, event),
        callers=_edges(profile, function, obj, event, incoming=True),
        callees=_edges(profile, function, obj, event, incoming=False),
        notes=notes,
    )


def _find(
    profile: Profile, function: str, obj: str | None, event: str | None
) -> tuple[dict, tuple[str, ...]]:
    table = profile.functions
    rows = table[table.function == function]
    if obj is not None:
        rows = rows[rows.object == obj]
    if rows.empty:
        where = f" in {obj}" if obj is not None else ""
        raise LookupError(f"no function {function!r}{where} in this profile")
    notes: tuple[str, ...] = ()
    if len(rows) > 1:
        if event is not None:
            rows = rows.sort_values(f"self_{event}", ascending=False, kind="stable")
        others = ", ".join(str(name) for name in rows.object.iloc[1:])
        notes = (f"{function} is also in {others}; showing {rows.object.iloc[0]} (pass object= to choose)",)
    return rows.iloc[0].to_dict(), notes


def _event_cost(profile: Profile, record: dict, event: str) -> EventCost:
    meta = profile.meta
    info = meta.event(event)
    total = program_total(meta, profile.functions, event)
    value = record.get(f"self_{event}")
    return EventCost(
        event=event,
        canonical=info.canonical,
        kind=info.kind,
        self=count(meta, event, value, where=f"functions.self_{event}"),
        inclusive=count(meta, event, record.get(f"incl_{event}"), where=f"functions.incl_{event}"),
        self_share=share(meta, event, value, total, column=f"self_{event}"),
    )


def _mix(profile: Profile, function: str, obj: str) -> dict[str, dict]:
    """Each key type's histogram, dynamic basis preferred, with shares of the known instructions."""
    mix = profile.mix
    own = mix[(mix.function == function) & (mix.object == obj)]
    found: dict[str, dict] = {}
    for key_type, rows in own.groupby("key_type"):
        basis = "dynamic" if (rows.basis == "dynamic").any() else "static"
        chosen = rows[rows.basis == basis].groupby("key")["count"].sum().sort_values(ascending=False)
        known = chosen.drop("unknown", errors="ignore")
        total = int(known.sum())
        found[str(key_type)] = {
            "basis": basis,
            "total": total,
            "unknown": int(chosen.get("unknown", 0)),
            "rows": [
                {"key": str(key), "count": int(value), "share": value / total if total else None}
                for key, value in known.items()
            ],
        }
    return found


def _top_lines(profile: Profile, function: str, obj: str, event: str | None) -> tuple[dict, ...]:
    lines = profile.lines
    if event is None or lines.empty or event not in lines:
        return ()
    own = lines[(lines.function == function) & (lines.object == obj)]
    return tuple(
        _cost_row(profile.meta, event, record, f"lines.{event}", ("file", "line"))
        for record in own.nlargest(TOP, event).to_dict("records")
    )


def _top_instructions(profile: Profile, function: str, obj: str, event: str | None) -> tuple[dict, ...]:
    table = profile.instructions
    if event is None or table.empty or event not in table:
        return ()
    own = table[(table.function == function) & (table.object == obj)]
    own = own.assign(register_class=instruction_classes(profile).loc[own.index])
    keys = ("address", "mnemonic", "operands", "register_class")
    return tuple(
        _cost_row(profile.meta, event, record, f"instructions.{event}", keys)
        for record in own.nlargest(TOP, event).to_dict("records")
    )


def _cost_row(meta: ProfileMeta, event: str, record: dict, where: str, keys: tuple[str, ...]) -> dict:
    row: dict = {key: _plain(record.get(key)) for key in keys}
    row["cost"] = count(meta, event, record[event], where=where)
    return row


def _plain(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return as_number(value) if not isinstance(value, str) else value


def _edges(
    profile: Profile, function: str, obj: str, event: str | None, *, incoming: bool
) -> tuple[Edge, ...]:
    calls = profile.calls
    if calls.empty:
        return ()
    mine, other = ("callee", "caller") if incoming else ("caller", "callee")
    rows = calls[(calls[mine] == function) & (calls[f"{mine}_object"] == obj)]
    if event is not None and event in rows:
        rows = rows.sort_values(event, ascending=False, kind="stable")
    meta = profile.meta
    return tuple(
        Edge(
            function=str(record[other]),
            object=str(record[f"{other}_object"]),
            calls=as_number(record["calls"]) or 0,
            cost=count(meta, event, record.get(event), where=f"calls.{event} (inclusive cost of these calls)")
            if event
            else Figure(None, (), "", note="not measured: no events"),
        )
        for record in rows.to_dict("records")
    )
