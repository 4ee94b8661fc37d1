"""Vectorization coverage: how much of each function runs on zmm, ymm, xmm or scalar code.

Sources, best first, per function:
1. the ``mix`` table's ``register_class`` rows with ``basis="dynamic"`` (executed instructions: SDE,
   or callgrind ``Ir`` joined with objdump on address);
2. the same rows with ``basis="static"`` (instructions present in the binary, objdump);
3. only when the mix table has no register-class rows at all: the ``instructions`` table's
   ``register_class`` column weighted by its instructions event (a dynamic mix). Not per function
   otherwise, because some formats list only the hottest blocks' instructions (SDE).
A function with none of these is left out and the result says so; nothing is inferred from names.

Upgrade candidates (facts, not advice: ``recommendations`` weighs them against memory figures):
* ``avx2``: a hot function (≥ ``HOT_SHARE`` of the ranking event) that runs ymm code
  (≥ ``MIN_VECTOR_SHARE`` of its instructions) and no zmm: what AVX-512 could widen;
* ``scalar_fp``: a hot function where scalar floating-point arithmetic (``addss``, ``vfmadd231sd`` …)
  is ≥ ``MIN_SCALAR_FP_SHARE`` of its executed instructions: loops that packed instructions could do.
  This needs instruction mnemonics; without them no scalar candidate is claimed.
The register-class counts leave out instructions the disassembly did not cover (class ``unknown``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pandas as pd

from analysis.insights.figures import (
    AsDict,
    Figure,
    as_number,
    primary_event,
    program_total,
    ratio,
    share,
)
from analysis.profiles.model import REGISTER_CLASSES, VECTOR_WIDTH, Profile

HOT_SHARE = 0.05
MIN_VECTOR_SHARE = 0.05
MIN_SCALAR_FP_SHARE = 0.10
SAMPLES_PER_CLASS = 2
SCALAR_FP = re.compile(r"^v?(add|sub|mul|div|sqrt|min|max|f?n?m(add|sub)\d*)s[sd]$")
CLASS_OF_WIDTH = {width: name for name, width in VECTOR_WIDTH.items()}


@dataclass(frozen=True)
class VectorRow(AsDict):
    function: str
    object: str
    basis: str
    instructions: int
    counts: dict[str, int]
    shares: dict[str, Figure]
    hot_share: Figure
    scalar_fp_share: Figure
    samples: tuple[dict, ...]


@dataclass(frozen=True)
class Candidate(AsDict):
    function: str
    object: str
    kind: str  # "avx2" or "scalar_fp"
    reason: str
    evidence: tuple[Figure, ...]


@dataclass(frozen=True)
class Vectorization(AsDict):
    event: str | None
    program: dict[str, Figure]
    program_basis: str
    rows: tuple[VectorRow, ...]
    upgrade_candidates: tuple[Candidate, ...]
    notes: tuple[str, ...] = ()


def vectorization(profile: Profile, *, limit: int = 20) -> Vectorization:
    classes = register_class_counts(profile)
    notes: list[str] = []
    if classes.empty:
        notes.append(
            "not measured: the profile has no instruction mix (upload the binary's objdump -d, or an SDE mix)"
        )
        return Vectorization(primary_event(profile.meta), {}, "", (), (), tuple(notes))
    event = primary_event(profile.meta)
    program_rows = classes[classes.function == ""]
    functions = classes[classes.function != ""]
    program, program_basis = _program_shares(profile, program_rows, functions)
    facts = _Facts(profile, event)
    rows = [_vector_row(facts, key, basis, counts) for key, basis, counts in _per_function(functions)]
    rows.sort(key=lambda row: (-(row.hot_share.value or 0), -row.instructions, row.function))
    candidates = tuple(c for row in rows for c in _candidates(row))
    if not any(row.samples for row in rows):
        notes.append("no instruction samples: the instructions table has no mnemonics")
    return Vectorization(event, program, program_basis, tuple(rows[:limit]), candidates, tuple(notes))


def register_class_counts(profile: Profile) -> pd.DataFrame:
    """``function, object, key, count, basis`` of register classes, one basis per function."""
    mix = profile.mix
    frame = mix[mix.key_type == "register_class"][["function", "object", "key", "count", "basis"]]
    if frame.empty:
        frame = _from_instructions(profile)
    if frame.empty:
        return frame
    rank = frame.basis.map({"dynamic": 0, "static": 1}).fillna(2)
    best = rank.groupby([frame.function, frame.object]).transform("min")
    return frame[rank == best].reset_index(drop=True)


def instruction_classes(profile: Profile) -> pd.Series:
    """The register class of each row of the instructions table (None where unknown)."""
    table = profile.instructions
    if "register_class" in table:
        return table["register_class"].astype("object").where(table["register_class"].notna(), None)
    if "vector_width" in table:
        widths = pd.to_numeric(table["vector_width"], errors="coerce")
        return widths.map(lambda width: CLASS_OF_WIDTH.get(int(width)) if pd.notna(width) else None)
    return pd.Series([None] * len(table), index=table.index, dtype="object")


def _from_instructions(profile: Profile) -> pd.DataFrame:
    table = profile.instructions
    instructions = profile.meta.event_for("instructions")
    columns = ["function", "object", "key", "count", "basis"]
    if table.empty or instructions is None or instructions not in table:
        return pd.DataFrame(columns=columns)
    classes = instruction_classes(profile)
    known = table.assign(key=classes)[classes.notna()]
    if known.empty:
        return pd.DataFrame(columns=columns)
    grouped = known.groupby(["function", "object", "key"], as_index=False)[instructions].sum()
    return grouped.rename(columns={instructions: "count"}).assign(basis="dynamic")[columns]


def _class_counts(group: pd.DataFrame) -> dict[str, int]:
    sums = group.groupby("key")["count"].sum()
    return {name: int(sums.get(name, 0)) for name in REGISTER_CLASSES}


def _mix_kind(profile: Profile, basis: str) -> str:
    """Static counts are exact counts of the binary; dynamic ones are as good as the instruction count."""
    instructions = profile.meta.event_for("instructions")
    if basis != "dynamic" or instructions is None:
        return "exact" if basis == "static" else "measured"
    return profile.meta.event(instructions).kind


def _class_shares(counts: dict[str, int], basis: str, source: str, kind: str) -> dict[str, Figure]:
    total = sum(counts.values())
    return {
        name: Figure(
            value / total if total else None,
            ("register_class",),
            kind,
            formula=f"{source} {name} / all {basis} instructions",
            numerator=value,
            denominator=total,
            unit="share",
        )
        for name, value in counts.items()
    }


def _program_shares(
    profile: Profile, program_rows: pd.DataFrame, functions: pd.DataFrame
) -> tuple[dict[str, Figure], str]:
    rows = program_rows if not program_rows.empty else functions
    if rows.empty:
        return {}, ""
    basis = "dynamic" if (rows.basis == "dynamic").any() else "static"
    counts = _class_counts(rows[rows.basis == basis])
    source = "program" if not program_rows.empty else "sum of functions'"
    return _class_shares(counts, basis, source, _mix_kind(profile, basis)), basis


class _Facts:
    """What every row needs, indexed once: self costs and the instructions grouped by function."""

    def __init__(self, profile: Profile, event: str | None) -> None:
        self.profile, self.event = profile, event
        table = profile.functions
        self.self_costs: dict[tuple[str, str], object] = {}
        if event is not None:
            sums = table.groupby(["function", "object"])[f"self_{event}"].sum()
            self.self_costs = {key: as_number(value) for key, value in sums.items()}
            self.total = program_total(profile.meta, table, event)
        instructions = profile.meta.event_for("instructions")
        self.groups: dict[tuple[str, str], pd.DataFrame] = {}
        self.weight_column: str | None = None
        code = profile.instructions
        if code.empty or "mnemonic" not in code:
            return
        self.weight_column = instructions if instructions in code else None
        weights = code[self.weight_column] if self.weight_column else pd.Series(1, index=code.index)
        known = code.assign(_weight=weights, _class=instruction_classes(profile))[code.mnemonic.notna()]
        self.groups = {key: group for key, group in known.groupby(["function", "object"])}

    def hot_share(self, key: tuple[str, str]) -> Figure:
        meta = self.profile.meta
        if self.event is None:
            return Figure(None, (), "", "self share", note="not measured: the profile has no events")
        value = self.self_costs.get(key)
        return share(meta, self.event, value, self.total, column=f"self_{self.event}")


def _per_function(classes: pd.DataFrame) -> list[tuple[tuple[str, str], str, dict[str, int]]]:
    """(key, basis, counts by register class) of each function with classified instructions (one
    pivot: the disassembly leaves most library functions ``unknown``)."""
    known = classes[classes.key.isin(REGISTER_CLASSES)]
    if known.empty:
        return []
    pivot = known.pivot_table(index=["function", "object"], columns="key", values="count", aggfunc="sum")
    pivot = pivot.reindex(columns=list(REGISTER_CLASSES)).fillna(0).astype("int64")
    basis = known.groupby(["function", "object"]).basis.first()
    found = []
    for key, values in zip(pivot.index, pivot.to_numpy().tolist(), strict=True):
        if sum(values):
            found.append((key, str(basis[key]), dict(zip(REGISTER_CLASSES, values, strict=True))))
    return found


def _vector_row(facts: _Facts, key: tuple[str, str], basis: str, counts: dict[str, int]) -> VectorRow:
    function, obj = key
    samples, scalar_fp = _instruction_facts(facts, key)
    if scalar_fp is None:
        note = "not measured: no instruction mnemonics"
        scalar_fp = Figure(None, (), "", "scalar FP / instructions", note=note)
    return VectorRow(
        function=function,
        object=obj,
        basis=basis,
        instructions=sum(counts.values()),
        counts=counts,
        shares=_class_shares(counts, basis, "mix", _mix_kind(facts.profile, basis)),
        hot_share=facts.hot_share(key),
        scalar_fp_share=scalar_fp,
        samples=samples,
    )


def _instruction_facts(facts: _Facts, key: tuple[str, str]) -> tuple[tuple[dict, ...], Figure | None]:
    """Sample instructions per register class (hottest first) and the scalar FP share of the function."""
    own = facts.groups.get(key)
    if own is None or own.empty:
        return (), None
    weight_column = facts.weight_column
    ordered = own.sort_values("_weight", ascending=False, kind="stable")
    samples = []
    for name in REGISTER_CLASSES:
        for record in ordered[ordered._class == name].head(SAMPLES_PER_CLASS).to_dict("records"):
            samples.append(
                {
                    "address": as_number(record["address"]),
                    "mnemonic": str(record["mnemonic"]),
                    "operands": "" if pd.isna(record.get("operands")) else str(record.get("operands")),
                    "register_class": name,
                    "cost": as_number(record["_weight"]),
                    "event": weight_column or "static count",
                }
            )
    is_fp = own.mnemonic.astype(str).str.match(SCALAR_FP)
    events = (weight_column,) if weight_column else ()
    scalar_fp = ratio(
        facts.profile.meta,
        events,
        as_number(own._weight[is_fp].sum()),
        as_number(own._weight.sum()),
        formula=f"{weight_column or 'count'} of scalar FP arithmetic / the function's instruction rows",
        unit="share",
    )
    if not weight_column:
        note = "static: instructions in the binary, not executions"
        scalar_fp = replace(scalar_fp, kind="exact", note=note)
    return tuple(samples), scalar_fp


def _candidates(row: VectorRow) -> list[Candidate]:
    hot = row.hot_share.value or 0
    if hot < HOT_SHARE:
        return []
    found = []
    ymm, zmm = row.shares["ymm"], row.shares["zmm"]
    if (ymm.value or 0) >= MIN_VECTOR_SHARE and not row.counts["zmm"]:
        reason = (
            f"{row.function} takes {hot:.1%} of {row.hot_share.events[0]} and runs "
            f"{ymm.value:.1%} ymm (AVX/AVX2) instructions, no zmm ({row.basis} mix)"
        )
        found.append(Candidate(row.function, row.object, "avx2", reason, (row.hot_share, ymm, zmm)))
    scalar_fp = row.scalar_fp_share
    if (scalar_fp.value or 0) >= MIN_SCALAR_FP_SHARE:
        reason = (
            f"{row.function} takes {hot:.1%} of {row.hot_share.events[0]} and {scalar_fp.value:.1%} of its "
            "instructions are scalar floating-point arithmetic that packed instructions could do"
        )
        found.append(Candidate(row.function, row.object, "scalar_fp", reason, (row.hot_share, scalar_fp)))
    return found
