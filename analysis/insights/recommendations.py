"""Compiler-flag and code advice derived from the profile's own figures; each item carries them.

"Hot" means at least ``HOT_SHARE`` of the ranking event (cycles, else instructions, else samples or
time). "Memory-bound" means LL misses per kilo-instruction ≥ ``MEMORY_MPKI`` or a D1 miss rate ≥
``MEMORY_MISS_RATE``, in a function holding ≥ ``MEMORY_SCORE`` of the program's estimated stall cycles
(``memory``). The rules, in order:

1. ``avx512`` — a hot function runs ymm code and no zmm (``vectorization`` candidate ``avx2``), is not
   memory-bound, and the target has AVX-512: ``-march=<target> -mprefer-vector-width=512`` (gcc
   tunes AVX-512 parts to prefer ymm, so -march alone keeps ymm). No target, or one without
   AVX-512: no flag, a note saying what is needed.
2. ``vectorize`` — a hot function whose executed instructions are ≥ 10 % scalar floating-point
   arithmetic and which is not memory-bound: ``-O3`` (gcc 12's -O2 vectorizes only very cheap loops)
   plus ``-march=<target>`` when a target with AVX is named. If the function already runs packed
   code (≥ 5 % vector instructions), the compiler was vectorizing and a flag would change nothing:
   a hint only (a reduction or a dependence; ``-fopt-info-vec-missed``). Reassociation for FP sums is
   named as a hint, never as a flag, because it changes results.
3. ``memory`` — a hot memory-bound function: no flag. Scalar code: data layout (contiguous arrays
   instead of linked or strided records), ``__builtin_prefetch`` ahead of a known next address,
   loop blocking. Vector code: alignment, blocking, unrolling to keep more loads in flight.
4. ``branches`` — a hot function with ≥ ``MISPREDICT_RATE`` of its branches mispredicted and ≥
   ``MISPREDICT_SHARE`` of the program's mispredicts: profile-guided optimisation
   (``-fprofile-generate`` then ``-fprofile-use``) and branchless code.
5. ``zmm`` — hot code already runs zmm: on a target without AVX-512, runtime dispatch
   (``target_clones``) instead of a flag; on ``skylake-avx512``, a hint to measure
   ``-mprefer-vector-width=256`` (clock drop under heavy 512-bit code).
Nothing else: with no instruction mix there is no vector advice, with no miss events no memory advice.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.insights.figures import AsDict, Figure
from analysis.insights.memory import Memory, MemoryRow, memory, memory_figures
from analysis.insights.targets import TARGETS, Target, target_info
from analysis.insights.vectorization import (
    HOT_SHARE,
    MIN_VECTOR_SHARE,
    Candidate,
    Vectorization,
    VectorRow,
    vectorization,
)
from analysis.profiles.model import Profile

MEMORY_MPKI = 10.0
MEMORY_MISS_RATE = 0.10
MEMORY_SCORE = 0.10
MEMORY_ROWS = 20  # a function with MEMORY_SCORE of the stall estimate is among the first 1/MEMORY_SCORE
MISPREDICT_RATE = 0.05
MISPREDICT_SHARE = 0.10
AVX512_TARGETS = tuple(name for name, target in TARGETS.items() if target.avx512)


@dataclass(frozen=True)
class Recommendation(AsDict):
    rule: str
    flag: str | None
    hint: str
    functions: tuple[str, ...]
    reason: str
    evidence: tuple[Figure, ...]


@dataclass(frozen=True)
class Recommendations(AsDict):
    target: str | None
    items: tuple[Recommendation, ...]
    notes: tuple[str, ...] = ()

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(item.flag for item in self.items if item.flag)


def recommendations(profile: Profile, *, target: str | None = None) -> Recommendations:
    chosen = target_info(target) if target else None
    vec = vectorization(profile, limit=len(profile.functions))
    mem = memory(profile, limit=MEMORY_ROWS)
    bound = {(row.function, row.object): row for row in mem.rows if _memory_bound(row)}
    items: list[Recommendation] = []
    notes: list[str] = list(vec.notes[:1]) + [note for note in mem.notes if note.startswith("not measured")]
    for candidate in vec.upgrade_candidates:
        key = (candidate.function, candidate.object)
        if key in bound:
            continue  # rule 3 speaks for it: wider or packed code does not fix a memory-bound loop
        if candidate.kind == "avx2":
            _avx512(candidate, chosen, items, notes)
        else:
            items.append(_vectorize(candidate, chosen, _vector_row(vec, *key)))
    items.extend(_memory(row, vec) for row in bound.values() if _is_hot(row, vec))
    items.extend(_branches(profile, mem))
    _zmm(vec, chosen, items, notes)
    return Recommendations(target, tuple(items), tuple(dict.fromkeys(notes)))


def _memory_bound(row: MemoryRow) -> bool:
    mpki, rate = row.figures["ll_mpki"], row.figures["d1_miss_rate"]
    heavy = (mpki.value or 0) >= MEMORY_MPKI or (rate.value or 0) >= MEMORY_MISS_RATE
    return heavy and (row.score.value or 0) >= MEMORY_SCORE


def _is_hot(row: MemoryRow, vec: Vectorization) -> bool:
    """Hot by the ranking event when the mix knows it; else its stall share already says so."""
    vector_row = _vector_row(vec, row.function, row.object)
    if vector_row is None or vector_row.hot_share.value is None:
        return True
    return vector_row.hot_share.value >= HOT_SHARE


def _vector_row(vec: Vectorization, function: str, obj: str) -> VectorRow | None:
    return next((row for row in vec.rows if row.function == function and row.object == obj), None)


def _avx512(candidate: Candidate, target: Target | None, items: list, notes: list) -> None:
    if target is None:
        notes.append(
            f"{candidate.function} runs ymm code and could use AVX-512; name the deploy target "
            f"(one of {', '.join(AVX512_TARGETS)}) to get -march advice"
        )
        return
    if not target.avx512:
        notes.append(
            f"{candidate.function} runs ymm code, the widest vectors {target.name} has: no AVX-512 advice"
        )
        return
    flag = f"-march={target.name} -mprefer-vector-width=512"
    tuning = " (gcc tunes this target to prefer ymm unless told otherwise)" if target.prefers_256 else ""
    hint = f"rebuild {candidate.function} for {target.name} with 512-bit vectors{tuning}"
    if target.note:
        hint += f"; {target.note}"
    items.append(
        Recommendation("avx512", flag, hint, (candidate.function,), candidate.reason, candidate.evidence)
    )


def _vectorize(candidate: Candidate, target: Target | None, row: VectorRow | None) -> Recommendation:
    packed = row is not None and row.counts["scalar"] < sum(row.counts.values()) * (1 - MIN_VECTOR_SHARE)
    functions = (candidate.function,)
    if packed:
        hint = (
            "the compiler already vectorizes part of this function, so a flag will not vectorize the rest: "
            "the scalar floating-point loop is likely a reduction or has a dependence "
            "(#pragma omp simd reduction(+:sum) for a sum; -fopt-info-vec-missed says why a loop "
            "stayed scalar)"
        )
        return Recommendation("vectorize", None, hint, functions, candidate.reason, candidate.evidence)
    flag = f"-O3 -march={target.name}" if target is not None and "avx" in target.isa else "-O3"
    hint = (
        "let gcc vectorize the scalar floating-point loops (-O3); a floating-point sum stays scalar "
        "unless reassociation is allowed for it (#pragma omp simd reduction(+:sum), or -fassociative-math "
        "if changed rounding is acceptable)"
    )
    if target is None:
        hint += "; name the deploy target to add -march and use its vector width"
    return Recommendation(
        "vectorize", flag, hint, (candidate.function,), candidate.reason, candidate.evidence
    )


def _memory(row: MemoryRow, vec: Vectorization) -> Recommendation:
    vector_row = _vector_row(vec, row.function, row.object)
    vectorized = vector_row is not None and vector_row.counts["scalar"] < sum(vector_row.counts.values()) / 2
    if vectorized:
        hint = (
            "memory-bound vector loop: align the arrays (__builtin_assume_aligned), block the loop so its "
            "working set fits the cache, unroll to keep more loads in flight"
        )
    else:
        hint = (
            "memory-bound scalar loop: no compiler flag fixes this. Lay the data out contiguously "
            "(arrays / structure of arrays instead of linked or padded records), __builtin_prefetch the "
            "next element a few iterations ahead when its address is known early, block the loop to fit "
            "the cache; vectorizing will not help until the data are contiguous"
        )
    evidence = tuple(
        figure
        for name in ("ll_mpki", "d1_miss_rate", "ll_miss_rate")
        if (figure := row.figures[name]).measured
    )
    return Recommendation("memory", None, hint, (row.function,), row.reason, (row.score, *evidence))


def _branches(profile: Profile, mem: Memory) -> list[Recommendation]:
    total = mem.program.get("branch_mispredict_rate")
    if total is None or not total.measured or not total.numerator:
        return []
    misses = f"self_{total.events[0]}"
    table = profile.functions
    # Only functions holding MISPREDICT_SHARE of the mispredicts can qualify: at most 1/share of them.
    heavy = table[table[misses].fillna(0) >= MISPREDICT_SHARE * total.numerator]
    found = []
    for record in heavy.sort_values(misses, ascending=False, kind="stable").to_dict("records"):
        function = str(record["function"])
        rate = memory_figures(profile.meta, record)["branch_mispredict_rate"]
        if not rate.measured or (rate.value or 0) < MISPREDICT_RATE:
            continue
        share = Figure(
            rate.numerator / total.numerator,
            rate.events[:1],
            rate.kind,
            formula=f"{rate.events[0]} of the function / {rate.events[0]} of the program",
            numerator=rate.numerator,
            denominator=total.numerator,
            unit="share",
        )
        if (share.value or 0) < MISPREDICT_SHARE:
            continue
        reason = (
            f"{function}: {rate.value:.1%} of its {rate.denominator:,} branches mispredicted "
            f"({rate.kind}), {share.value:.1%} of the program's mispredicts"
        )
        hint = (
            "profile-guided optimisation lets gcc lay out and if-convert branches by their real outcomes; "
            "or make the data-dependent branch branchless (arithmetic/cmov, a lookup table, sorted data)"
        )
        flag = "-fprofile-generate, run a representative input, then -fprofile-use"
        found.append(Recommendation("branches", flag, hint, (function,), reason, (rate, share)))
    return found


def _zmm(vec: Vectorization, target: Target | None, items: list, notes: list) -> None:
    hot = [row for row in vec.rows if row.counts["zmm"] and (row.hot_share.value or 0) >= HOT_SHARE]
    if not hot:
        return
    names = tuple(row.function for row in hot)
    evidence = tuple(figure for row in hot for figure in (row.hot_share, row.shares["zmm"]))
    reason = "; ".join(
        f"{row.function}: {row.hot_share.value:.1%} of {row.hot_share.events[0]}, "
        f"{row.shares['zmm'].value:.1%} zmm ({row.basis})"
        for row in hot
    )
    if target is None:
        notes.append(f"hot code runs zmm (AVX-512): {', '.join(names)}; the deploy CPU must have AVX-512")
    elif not target.avx512:
        hint = (
            f"{target.name} has no AVX-512 and would stop on these functions (SIGILL): build them with "
            '__attribute__((target_clones("avx512f", "avx2", "default"))) for runtime dispatch'
        )
        items.append(Recommendation("zmm", None, hint, names, reason, evidence))
    elif target.name == "skylake-avx512":
        hint = "measure -mprefer-vector-width=256 against 512: heavy zmm code lowers this part's clock"
        items.append(Recommendation("zmm", "-mprefer-vector-width=256", hint, names, reason, evidence))
