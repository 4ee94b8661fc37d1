"""Memory and branch bottlenecks per function, from whichever miss events the profile has.

Figures (each only when its events were measured; self costs of the function):
* ``d1_miss_rate`` = L1D misses / data accesses, e.g. callgrind (D1mr+D1mw)/(Dr+Dw); with read misses
  only (perf ``L1-dcache-load-misses``) it is the read miss rate and needs the reads;
* ``ll_miss_rate`` = last-level data misses / data accesses, e.g. (DLmr+DLmw)/(Dr+Dw);
* ``l1d_mpki``, ``ll_mpki`` = 1000 · misses / instructions; ``dtlb_mpki`` likewise;
* ``branch_mispredict_rate`` = branch misses / branches (Bcm/Bc);
* ``dtlb_misses`` (count), ``cpi`` = cycles / instructions.
Callgrind's misses are simulated (its ``desc:`` cache geometry, no prefetcher, no TLB); Dr/Dw count
memory accesses as valgrind splits them, not load instructions.

Ranking score: each function's share of the program's estimated stall cycles,
``10·L1D misses + 100·LL misses + 10·branch mispredicts + 30·dTLB misses`` over the terms the profile
has. The 10/100/10 weights are KCachegrind's CEst; 30 for a dTLB miss (a page walk that mostly hits
the caches) is ours. It orders functions; it is labelled an estimate and is not a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.insights.figures import AsDict, Figure, as_number, missing, ratio
from analysis.insights.hotspots import cpi
from analysis.profiles.model import Profile, ProfileMeta

STALL_WEIGHTS = {"l1d": 10, "ll": 100, "branch_misses": 10, "dtlb": 30}
MINOR_TERM = 0.05  # a term below this fraction of the function's heaviest one is left out of its reason
TERM_LABELS = {
    "l1d": "L1D misses",
    "ll": "LL misses",
    "branch_misses": "branch mispredicts",
    "dtlb": "dTLB misses",
}


@dataclass(frozen=True)
class MemoryEvents:
    """Which columns answer each question, decided once per profile."""

    l1d: tuple[str, ...]
    l1d_access: tuple[str, ...]
    ll: tuple[str, ...]
    ll_access: tuple[str, ...]
    branches: str | None
    branch_misses: str | None
    dtlb: str | None
    instructions: str | None

    @classmethod
    def of(cls, meta: ProfileMeta) -> MemoryEvents:
        find = meta.event_for
        l1d, l1d_access = _misses(meta, ("l1d_read_miss", "l1d_write_miss"), "l1d_miss")
        ll, ll_access = _misses(meta, ("ll_read_miss", "ll_write_miss"), "llc_miss")
        return cls(
            l1d,
            l1d_access,
            ll,
            ll_access,
            find("branches"),
            find("branch_misses"),
            find("dtlb_miss"),
            find("instructions"),
        )

    def terms(self) -> dict[str, tuple[str, ...]]:
        found = {"l1d": self.l1d, "ll": self.ll}
        found["branch_misses"] = (self.branch_misses,) if self.branch_misses else ()
        found["dtlb"] = (self.dtlb,) if self.dtlb else ()
        return {term: events for term, events in found.items() if events}


def _misses(
    meta: ProfileMeta, split: tuple[str, str], combined: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Miss columns and the access columns that are their denominator (empty when not measured)."""
    read, write = (meta.event_for(name) for name in split)
    reads, writes = meta.event_for("mem_reads"), meta.event_for("mem_writes")
    both_accesses = (reads, writes) if reads and writes else ()
    if read and write:
        return (read, write), both_accesses
    if meta.event_for(combined):
        return (meta.event_for(combined),), both_accesses  # type: ignore[return-value]
    if read:
        return (read,), (reads,) if reads else ()
    return (), ()


@dataclass(frozen=True)
class MemoryRow(AsDict):
    rank: int
    function: str
    object: str
    figures: dict[str, Figure]
    score: Figure
    reason: str


@dataclass(frozen=True)
class Memory(AsDict):
    score_formula: str
    program: dict[str, Figure]
    rows: tuple[MemoryRow, ...]
    notes: tuple[str, ...] = ()


def memory(profile: Profile, *, limit: int = 20) -> Memory:
    meta = profile.meta
    events = MemoryEvents.of(meta)
    terms = events.terms()
    if not terms:
        note = "not measured: the profile has no cache, branch-miss or TLB events"
        return Memory("", {}, (), (note,))
    formula = " + ".join(f"{STALL_WEIGHTS[term]}·({'+'.join(cols)})" for term, cols in terms.items())
    program_values = {f"self_{name}": value for name, value in meta.totals.items()}
    program_stall = stall(events, program_values)
    program = memory_figures(meta, program_values)
    ranked = _ranked(profile.functions, events, limit)
    rows = []
    for rank, (value, record) in enumerate(ranked, 1):
        score = Figure(
            value / program_stall if program_stall else None,
            tuple(name for cols in terms.values() for name in cols),
            "estimated",
            formula=f"({formula}) of the function / the same over the program",
            numerator=value,
            denominator=program_stall,
            unit="share",
            note="an ordering estimate with CEst-like weights, not a time",
        )
        figures = memory_figures(meta, record)
        reason = _reason(record["function"], figures, score, events, record)
        rows.append(MemoryRow(rank, str(record["function"]), str(record["object"]), figures, score, reason))
    notes = _notes(meta, events)
    return Memory(formula, program, tuple(rows), notes)


def _ranked(frame: pd.DataFrame, events: MemoryEvents, limit: int) -> list[tuple[int, dict]]:
    """The ``limit`` functions with the largest stall estimate (> 0), computed for all at once."""
    stalls = pd.Series(0, index=frame.index, dtype="int64")
    for term, cols in events.terms().items():
        for name in cols:
            stalls += STALL_WEIGHTS[term] * frame[f"self_{name}"].fillna(0).astype("int64")
    order = frame.assign(_stall=stalls)[stalls > 0].sort_values(
        ["_stall", "function"], ascending=[False, True], kind="stable"
    )
    return [(int(record.pop("_stall")), record) for record in order.head(limit).to_dict("records")]


def stall(events: MemoryEvents, values: Mapping[str, Any], prefix: str = "self_") -> int:
    return sum(STALL_WEIGHTS[term] * _sum(values, cols, prefix) for term, cols in events.terms().items())


def memory_figures(meta: ProfileMeta, values: Mapping[str, Any], prefix: str = "self_") -> dict[str, Figure]:
    """The figures of one row (a function, or the program with ``self_<event>`` totals)."""
    events = MemoryEvents.of(meta)
    instructions = events.instructions
    figures: dict[str, Figure] = {}
    for level, misses, accesses, label in (
        ("d1", events.l1d, events.l1d_access, "L1D misses"),
        ("ll", events.ll, events.ll_access, "last-level data misses"),
    ):
        figures[f"{level}_miss_rate"] = _rate(meta, values, prefix, misses, accesses, label, "data accesses")
        figures[f"{'l1d' if level == 'd1' else 'll'}_mpki"] = _rate(
            meta, values, prefix, misses, (instructions,) if instructions else (), label, "instructions", 1000
        )
    figures["branch_mispredict_rate"] = _rate(
        meta,
        values,
        prefix,
        (events.branch_misses,) if events.branch_misses else (),
        (events.branches,) if events.branches else (),
        "branch mispredicts",
        "branches",
    )
    dtlb = (events.dtlb,) if events.dtlb else ()
    figures["dtlb_misses"] = (
        Figure(_sum(values, dtlb, prefix), dtlb, meta.event(dtlb[0]).kind, formula=dtlb[0])
        if dtlb
        else missing("dTLB misses", "TLB events (callgrind simulates no TLB)")
    )
    figures["dtlb_mpki"] = _rate(
        meta,
        values,
        prefix,
        dtlb,
        (instructions,) if instructions else (),
        "dTLB misses",
        "instructions",
        1000,
    )
    figures["cpi"] = cpi(meta, values, prefix)
    return figures


def _sum(values: Mapping[str, Any], columns: tuple[str, ...], prefix: str) -> int:
    return sum(as_number(values.get(f"{prefix}{name}")) or 0 for name in columns)


def _rate(
    meta: ProfileMeta,
    values: Mapping[str, Any],
    prefix: str,
    top: tuple[str, ...],
    bottom: tuple[str, ...],
    top_label: str,
    bottom_label: str,
    scale: float = 1.0,
) -> Figure:
    name = f"{top_label} per {'kilo-' if scale == 1000 else ''}{bottom_label.rstrip('s')}"
    if not top or not bottom:
        need = top_label if not top else bottom_label
        return missing(name, f"{need} event")
    formula = f"{'1000·' if scale == 1000 else ''}({'+'.join(top)}) / ({'+'.join(bottom)})"
    unit = "per 1000 instructions" if scale == 1000 else "ratio"
    return ratio(
        meta,
        top + bottom,
        _sum(values, top, prefix),
        _sum(values, bottom, prefix),
        formula=formula,
        scale=scale,
        unit=unit,
    )


def _reason(
    function: str, figures: dict[str, Figure], score: Figure, events: MemoryEvents, record: Mapping[str, Any]
) -> str:
    """The figures that make this function rank, the heaviest stall term first."""
    contributions = {
        term: STALL_WEIGHTS[term] * _sum(record, cols, "self_") for term, cols in events.terms().items()
    }
    parts = []
    heaviest = max(contributions.values(), default=0)
    for term in sorted(contributions, key=lambda term: -contributions[term]):
        if contributions[term] < MINOR_TERM * heaviest or contributions[term] == 0:
            continue
        parts.append(_term_text(term, figures))
    if figures["cpi"].measured:
        parts.append(f"CPI {figures['cpi'].value:.2f}")
    share_text = f"{score.value:.1%}" if score.value is not None else "an unknown share"
    head = f"{function}: {share_text} of the program's estimated stall cycles"
    return head + "; " + "; ".join(part for part in parts if part)


def _term_text(term: str, figures: dict[str, Figure]) -> str:
    def tag(figure: Figure) -> str:
        return f" ({figure.kind})" if figure.kind not in ("exact", "") else ""

    if term in ("l1d", "ll"):
        rate, mpki = figures[f"{'d1' if term == 'l1d' else 'll'}_miss_rate"], figures[f"{term}_mpki"]
        label = "D1" if term == "l1d" else "LL"
        pieces = []
        if rate.measured:
            pieces.append(f"{label} miss rate {rate.value:.1%} ({rate.numerator:,} of {rate.denominator:,})")
        if mpki.measured:
            pieces.append(f"{label} MPKI {mpki.value:.1f}")
        if not pieces:
            return f"{TERM_LABELS[term]} measured but no accesses or instructions to relate them to"
        return ", ".join(pieces) + tag(rate if rate.measured else mpki)
    if term == "branch_misses":
        rate = figures["branch_mispredict_rate"]
        if rate.measured:
            return f"{rate.value:.1%} of {rate.denominator:,} branches mispredicted{tag(rate)}"
        return ""
    misses, mpki = figures["dtlb_misses"], figures["dtlb_mpki"]
    text = f"{misses.value:,} dTLB misses"
    return text + (f" ({mpki.value:.2f} per 1000 instructions)" if mpki.measured else "") + tag(misses)


def _notes(meta: ProfileMeta, events: MemoryEvents) -> tuple[str, ...]:
    notes = []
    if meta.tool in ("callgrind", "cachegrind"):
        notes.append("cache and branch misses are simulated by valgrind with the geometry in its desc: lines")
    if events.dtlb is None:
        notes.append("TLB misses not measured by this profile")
    if meta.event_for("cycles") is None:
        notes.append("CPI not measured: the profile has no cycles event")
    return tuple(notes)
