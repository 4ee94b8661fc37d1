"""The normalised profile every parser produces, whatever tool wrote the file.

Insights, storage (Parquet) and the diff read only this shape, so a new profiler format is one new
parser and nothing else. Costs are int64 counts; a column ``<event>`` holds one event named in
``meta.events`` (``Ir``, ``D1mr``, ``Bcm`` …, in the file's own order). Function identity is
(``object``, ``function``): the same name in two ELF objects is two functions. Names are kept as the
tool wrote them (callgrind's ``'2`` recursion suffixes included).

DataFrames (one row per key, costs summed over the file and over all its parts):

``functions``
    ``function, object, file`` (the file the function was defined in), then ``self_<event>``
    (exclusive cost) and ``incl_<event>`` (self plus the inclusive cost of its calls to other
    functions; a call to itself is not added again) for every event.
``lines``
    ``function, object, file, line, <event>…``: self cost by source line. ``file`` is the file the
    line belongs to, which differs from the function's file for inlined code (callgrind ``fi=``).
``instructions``
    ``function, object, address, <event>…, mnemonic, operands, vector_width``: self cost by
    instruction address (callgrind ``--dump-instr=yes``). The last three columns are empty until a
    disassembly (objdump) is joined on address; the join, objdump and SDE add ``register_class``
    (``REGISTER_CLASSES``, or ``unknown`` for an address the disassembly lacks), ``evex`` and
    ``isa_ext`` (SDE's names: ``BASE``, ``SSE``, ``AVX``, ``AVX2``, ``FMA``, ``AVX512EVEX`` …).
``calls``
    ``caller, caller_object, callee, callee_object, calls, <event>…``: call count and inclusive cost
    of all calls from one function to another.
``blocks`` (optional, empty when the format has none)
    ``function, object, address, instructions, executions, <event>…``: basic blocks (SDE top blocks,
    the tabular format's ``blocks`` table).
``mix`` (optional)
    ``function, object, key_type, key, count, basis``: instruction-mix histograms. ``function`` is
    ``""`` for the whole program. ``key_type`` is ``register_class`` (key one of ``REGISTER_CLASSES``),
    ``iclass``, ``isa_ext``, ``isa_set``, ``category`` or ``mem_size`` (keys ``read-4``, ``write-8``:
    accesses by size in bytes); a dynamic ``register_class`` may have key ``unknown`` (instructions
    outside the disassembly); ``basis`` is ``static``
    (instructions in the binary, objdump) or ``dynamic`` (executed instructions: SDE, or callgrind
    ``Ir`` joined with objdump on address).

Every event a format can produce is described by an ``Event``: its canonical meaning (so insights ask
for "instructions" or "l1d_read_miss" whatever the tool called it) and how it was obtained (exact,
sampled, simulated, measured, estimated), which the pages print next to every figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pandas as pd

T = TypeVar("T")

# zmm/ymm/xmm: packed vector code by register width; scalar: everything else, including scalar SSE/AVX
# arithmetic on xmm registers (``addss``, ``vmulsd``), which is not vectorized.
REGISTER_CLASSES = ("zmm", "ymm", "xmm", "scalar")
VECTOR_WIDTH = {"zmm": 512, "ymm": 256, "xmm": 128, "scalar": 0}
KINDS = ("exact", "sampled", "simulated", "measured", "estimated")


class ProfileFormatError(ValueError):
    """The input is not a well-formed profile; ``line_number`` is 1-based (0: before any line).

    Every reader raises it (and only it) for a bad file, so the upload path has one error to catch."""

    def __init__(self, message: str, line_number: int) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.message = message
        self.line_number = line_number


@dataclass(frozen=True)
class Event:
    """One cost column: ``name`` as the tool wrote it, ``canonical`` its meaning (``CANONICAL``)."""

    name: str
    canonical: str
    kind: str
    unit: str = "count"
    label: str = ""


CANONICAL = {
    "instructions": "Instructions executed",
    "cycles": "CPU cycles",
    "samples": "Samples",
    "time_ns": "CPU time (ns)",
    "mem_reads": "Data reads",
    "mem_writes": "Data writes",
    "l1i_miss": "L1 instruction misses",
    "l1d_read_miss": "L1 data read misses",
    "l1d_write_miss": "L1 data write misses",
    "l1d_miss": "L1 data misses",
    "ll_instr_miss": "Last-level instruction misses",
    "ll_read_miss": "Last-level data read misses",
    "ll_write_miss": "Last-level data write misses",
    "llc_miss": "Last-level cache misses",
    "branches": "Conditional branches",
    "branch_misses": "Branch mispredictions",
    "ind_branches": "Indirect branches",
    "ind_branch_misses": "Indirect branch mispredictions",
    "dtlb_miss": "Data TLB misses",
    "itlb_miss": "Instruction TLB misses",
}

# Events of the formats we read, by the name the tool writes. Callgrind's Ir/Dr/Dw/Bc/Bi are exact
# counts of the run under valgrind; its cache and predictor misses are simulated (geometry in desc:).
KNOWN_EVENTS = {
    event.name: event
    for event in (
        Event("Ir", "instructions", "exact"),
        Event("Dr", "mem_reads", "exact"),
        Event("Dw", "mem_writes", "exact"),
        Event("I1mr", "l1i_miss", "simulated"),
        Event("D1mr", "l1d_read_miss", "simulated"),
        Event("D1mw", "l1d_write_miss", "simulated"),
        Event("ILmr", "ll_instr_miss", "simulated"),
        Event("DLmr", "ll_read_miss", "simulated"),
        Event("DLmw", "ll_write_miss", "simulated"),
        Event("Bc", "branches", "exact"),
        Event("Bcm", "branch_misses", "simulated"),
        Event("Bi", "ind_branches", "exact"),
        Event("Bim", "ind_branch_misses", "simulated"),
        # Intel SDE -mix: instructions counted by the emulator (per thread, function, block).
        Event("icount", "instructions", "exact"),
        # perf: the sum of sample periods, an estimate of the event count (perf report's Period).
        Event("cycles", "cycles", "sampled"),
        Event("cpu-cycles", "cycles", "sampled"),
        Event("instructions", "instructions", "sampled"),
        Event("cache-misses", "llc_miss", "sampled"),
        Event("dTLB-load-misses", "dtlb_miss", "sampled"),
        Event("iTLB-load-misses", "itlb_miss", "sampled"),
        Event("branch-misses", "branch_misses", "sampled"),
        Event("branches", "branches", "sampled"),
        Event("branch-instructions", "branches", "sampled"),
        Event("L1-dcache-load-misses", "l1d_read_miss", "sampled"),
        Event("cpu-clock", "time_ns", "sampled", unit="ns"),
        Event("task-clock", "time_ns", "sampled", unit="ns"),
    )
}


def describe_event(name: str, *, kind: str = "measured") -> Event:
    """The ``Event`` for a column name: a known tool event, a canonical name used as is (the tabular
    format), or an event we do not interpret (canonical ``""``; shown, never used by insights)."""
    if name in KNOWN_EVENTS:
        return KNOWN_EVENTS[name]
    if name in CANONICAL:
        return Event(name, name, kind)
    return Event(name, "", kind)


@dataclass(frozen=True)
class ProfileMeta:
    """What the file says about itself: tool, command, the event order and its totals.

    ``totals`` is the sum of all self costs (checked against the file's ``totals:``); ``summary`` is
    the file's own ``summary:`` line, which callgrind writes a few instructions above ``totals:``
    and which callgrind_annotate prints as PROGRAM TOTALS.
    """

    tool: str
    command: str
    events: tuple[str, ...]
    totals: dict[str, int]
    summary: dict[str, int] | None = None
    creator: str = ""
    positions: tuple[str, ...] = ("line",)
    parts: int = 1
    descriptions: tuple[str, ...] = field(default_factory=tuple)
    # Per event (same keys as ``events``); parsers fill it, ``describe_event`` when they don't.
    event_info: dict[str, Event] = field(default_factory=dict)
    # What a reader of the figures must know: a sampling period, a truncated file, a SIGILL …
    notes: tuple[str, ...] = field(default_factory=tuple)

    def event(self, name: str) -> Event:
        return self.event_info.get(name) or describe_event(name)

    def event_for(self, canonical: str) -> str | None:
        """The column holding ``canonical`` (e.g. "instructions" → "Ir"), or None if not measured."""
        for name in self.events:
            if self.event(name).canonical == canonical:
                return name
        return None


@dataclass(frozen=True)
class Profile:
    meta: ProfileMeta
    functions: pd.DataFrame
    lines: pd.DataFrame
    instructions: pd.DataFrame
    calls: pd.DataFrame
    blocks: pd.DataFrame = field(default_factory=lambda: empty_blocks(()))
    mix: pd.DataFrame = field(default_factory=lambda: empty_mix())

    def self_cost(self, event: str) -> pd.Series:
        """Self cost of ``event`` per function name, summed over objects (what annotators print)."""
        return self.functions.groupby("function")[f"self_{event}"].sum()

    def inclusive_cost(self, event: str) -> pd.Series:
        return self.functions.groupby("function")[f"incl_{event}"].sum()


MIX_COLUMNS = ("function", "object", "key_type", "key", "count", "basis")


def empty_mix() -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.Series(dtype="int64" if name == "count" else "object") for name in MIX_COLUMNS}
    )


def empty_blocks(events) -> pd.DataFrame:
    columns = ["function", "object", "address", "instructions", "executions", *events]
    text = {"function", "object"}
    return pd.DataFrame({name: pd.Series(dtype="object" if name in text else "int64") for name in columns})


def read_lines(source: str | Path | Iterable[str], read: Callable[[Iterable[str]], T]) -> T:
    """``read(lines)`` over a path (opened as text; bytes that are not UTF-8 are kept, never fatal) or
    over any iterable of text lines. Every text format's ``parse_<format>`` is this and its reader."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8", errors="surrogateescape", newline=None) as handle:
            return read(handle)
    return read(source)


# What a reader's own slip looks like when a file is garbled in a way it did not check for.
SLIPS = (ValueError, IndexError, KeyError, TypeError, OverflowError, ZeroDivisionError, AttributeError)


def only_format_errors(read: Callable[..., T]) -> Callable[..., T]:
    """For a reader's method ``read(self, lines)``: only ``ProfileFormatError`` leaves it, with the line
    the reader was on (``self.number``), never a crash from an input nobody foresaw."""

    def guarded(self, lines: Iterable[str]) -> T:
        try:
            return read(self, lines)
        except ProfileFormatError:
            raise
        except UnicodeDecodeError as error:
            raise ProfileFormatError(f"not text ({error.reason})", self.number + 1) from None
        except SLIPS as error:
            raise ProfileFormatError(f"malformed line ({error})", self.number) from None

    return guarded
