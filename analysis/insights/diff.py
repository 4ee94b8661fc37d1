"""Run-to-run comparison of two profiles, function by function, normalised by each run's total.

Functions are matched by name with what changes between builds removed: gcc clone suffixes
(``.constprop.0``, ``.isra.0``, ``.part.0``, ``.cold``, ``.lto_priv.0``) and callgrind's ``'2``
recursion suffixes; objects are not part of the key because the binary is usually renamed or rebuilt.

A function's change is its share of the run's total after minus before (``share_change``, in share
points): runs of different length compare fairly. A function whose own cost did not change gains share
when the rest got cheaper, so each row also has ``cost_ratio`` (after / before, same event) and
``contribution`` ((after − before) / total before: the rows' contributions add up to the total change).
A function is ``regressed`` when its share rose by at least ``MIN_CHANGE`` points *and* its own cost
rose by more than ``MIN_COST_CHANGE`` (``improved``: both fell); a share that moved while the cost did
not is ``shifted`` (the rest of the program changed, not this function). ``new``/``gone``: present in
one run only (listed when their share is at least ``MIN_CHANGE``). Both conditions keep a shorter or
longer run from listing every function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.insights.figures import PRIMARY_CANONICAL, AsDict, Figure, as_number, program_total, weakest
from analysis.profiles.model import Profile

MIN_CHANGE = 0.005
MIN_COST_CHANGE = 0.01
CLONE_SUFFIX = re.compile(r"('\d+|\.(constprop|isra|part|lto_priv|clone|cold)(\.\d+)?|\.cold)+$")


def match_name(function: str) -> str:
    """The name two builds of one function share."""
    while True:
        stripped = CLONE_SUFFIX.sub("", function)
        if stripped == function or not stripped:
            return function
        function = stripped


@dataclass(frozen=True)
class DiffRow(AsDict):
    function: str
    names: tuple[str, ...]
    objects: tuple[str, ...]
    before: Figure
    after: Figure
    before_share: Figure
    after_share: Figure
    share_change: Figure
    cost_ratio: Figure
    contribution: Figure
    status: str  # regressed, improved, shifted, unchanged, new, gone


@dataclass(frozen=True)
class ProfileDiff(AsDict):
    event_before: str
    event_after: str
    canonical: str
    total_before: Figure
    total_after: Figure
    total_change: Figure
    rows: tuple[DiffRow, ...]
    regressions: tuple[DiffRow, ...]
    improvements: tuple[DiffRow, ...]
    notes: tuple[str, ...] = ()


def diff(before: Profile, after: Profile, *, event: str | None = None, limit: int = 20) -> ProfileDiff:
    first, second, canonical = _events(before, after, event)
    kinds = (before.meta.event(first).kind, after.meta.event(second).kind)
    totals = (
        program_total(before.meta, before.functions, first),
        program_total(after.meta, after.functions, second),
    )
    keyed = (_keyed(before), _keyed(after))
    table = _changes(
        keyed[0].groupby("key")[f"self_{first}"].sum(),
        keyed[1].groupby("key")[f"self_{second}"].sum(),
        totals,
    )
    listed = {
        "rows": table.head(limit),
        "regressions": table[_moved(table, "regressed", "new")].head(limit),
        "improvements": table[_moved(table, "improved", "gone")].head(limit),
    }
    names = (keyed[0].groupby("key").indices, keyed[1].groupby("key").indices)
    built: dict[str, DiffRow] = {}
    for frame in listed.values():
        for key in frame.index:
            if key not in built:
                record = table.loc[key]
                built[key] = _row(key, record, (first, second), kinds, totals, _origins(keyed, names, key))
    total_before, total_after = totals
    change = Figure(
        total_after / total_before - 1 if total_before else None,
        (first, second),
        weakest(*kinds),
        formula=f"total {second} after / total {first} before − 1",
        numerator=total_after,
        denominator=total_before,
        unit="ratio",
    )
    return ProfileDiff(
        event_before=first,
        event_after=second,
        canonical=canonical,
        total_before=Figure(total_before, (first,), kinds[0], formula=f"sum of self {first} before"),
        total_after=Figure(total_after, (second,), kinds[1], formula=f"sum of self {second} after"),
        total_change=change,
        rows=tuple(built[key] for key in listed["rows"].index),
        regressions=tuple(built[key] for key in listed["regressions"].index),
        improvements=tuple(built[key] for key in listed["improvements"].index),
        notes=_notes(before, after, first, second, total_before, total_after),
    )


def _keyed(profile: Profile) -> pd.DataFrame:
    table = profile.functions
    return table.assign(key=table.function.map(match_name))


def _changes(before: pd.Series, after: pd.Series, totals: tuple) -> pd.DataFrame:
    """One row per matched name: costs, shares, share change and status, largest change first."""
    total_before, total_after = totals
    table = pd.concat([before.rename("before"), after.rename("after")], axis=1)
    old, new = table.before.fillna(0), table.after.fillna(0)
    table["points"] = (new / total_after if total_after else 0.0) - (
        old / total_before if total_before else 0.0
    )
    cost = (new / old.where(old > 0)) - 1
    status = np.select(
        [
            (old == 0) & (new > 0),
            (old > 0) & (new == 0),
            table.points.abs() < MIN_CHANGE,
            (table.points > 0) & (cost > MIN_COST_CHANGE),
            (table.points < 0) & (cost < -MIN_COST_CHANGE),
        ],
        ["new", "gone", "unchanged", "regressed", "improved"],
        default="shifted",
    )
    table["status"] = status
    table["_order"] = -table.points.abs()
    table = table.rename_axis("key").reset_index()
    table = table.sort_values(["_order", "key"], kind="stable").set_index("key")
    return table


def _moved(table: pd.DataFrame, status: str, presence: str) -> pd.Series:
    """A function present in one run only is listed when its share is worth listing."""
    return (table.status == status) | ((table.status == presence) & (table.points.abs() >= MIN_CHANGE))


def _origins(keyed: tuple, indices: tuple, key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names and objects a matched name stands for, in both runs."""
    names: set[str] = set()
    objects: set[str] = set()
    for frame, index in zip(keyed, indices, strict=True):
        if key in index:
            rows = frame.iloc[index[key]]
            names.update(map(str, rows.function))
            objects.update(map(str, rows.object))
    return tuple(sorted(names)), tuple(sorted(objects))


def _events(before: Profile, after: Profile, event: str | None) -> tuple[str, str, str]:
    """The same meaning in both profiles: an event name both have, or a canonical name."""
    if event is not None and event in before.meta.events and event in after.meta.events:
        return event, event, before.meta.event(event).canonical
    wanted = (event,) if event is not None else PRIMARY_CANONICAL
    for canonical in wanted:
        first, second = before.meta.event_for(canonical), after.meta.event_for(canonical)
        if first and second:
            return first, second, canonical
    asked = event or " or ".join(PRIMARY_CANONICAL)
    raise ValueError(
        f"the profiles have no event in common for {asked} "
        f"(before: {', '.join(before.meta.events)}; after: {', '.join(after.meta.events)})"
    )


def _row(key: str, record: pd.Series, events: tuple, kinds: tuple, totals: tuple, origins: tuple) -> DiffRow:
    first, second = events
    kind_before, kind_after = kinds
    total_before, total_after = totals
    before = as_number(record["before"]) if pd.notna(record["before"]) else None
    after = as_number(record["after"]) if pd.notna(record["after"]) else None
    share_before = (before or 0) / total_before if total_before else 0.0
    share_after = (after or 0) / total_after if total_after else 0.0
    kind = weakest(kind_before, kind_after)
    ratio_value = after / before if before and after is not None else None
    contribution = ((after or 0) - (before or 0)) / total_before if total_before else None
    return DiffRow(
        function=str(key),
        names=origins[0],
        objects=origins[1],
        before=Figure(before, (first,), kind_before, formula=f"functions.self_{first} before"),
        after=Figure(after, (second,), kind_after, formula=f"functions.self_{second} after"),
        before_share=Figure(
            share_before, (first,), kind_before, f"self_{first} / total before", before, total_before, "share"
        ),
        after_share=Figure(
            share_after, (second,), kind_after, f"self_{second} / total after", after, total_after, "share"
        ),
        share_change=Figure(
            as_number(record["points"]), events, kind, "share after − share before", unit="share points"
        ),
        cost_ratio=Figure(
            ratio_value, events, kind, f"self_{second} after / self_{first} before", after, before, "ratio"
        ),
        contribution=Figure(
            contribution,
            events,
            kind,
            "(after − before) / total before",
            (after or 0) - (before or 0),
            total_before,
            "share",
        ),
        status=str(record["status"]),
    )


def _notes(
    before: Profile, after: Profile, first: str, second: str, total_before, total_after
) -> tuple[str, ...]:
    notes = []
    if before.meta.event(first).kind != after.meta.event(second).kind:
        notes.append(
            f"{first} is {before.meta.event(first).kind} before and {second} is "
            f"{after.meta.event(second).kind} after: compare shares, not counts"
        )
    if total_before and abs(total_after / total_before - 1) > 0.10:
        notes.append(
            "the totals differ by more than 10 %: a function whose own cost did not change gains or loses "
            "share; its cost_ratio says whether it changed itself"
        )
    return tuple(notes)
