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
    disassembly (objdump) is joined on address.
``calls``
    ``caller, caller_object, callee, callee_object, calls, <event>…``: call count and inclusive cost
    of all calls from one function to another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


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


@dataclass(frozen=True)
class Profile:
    meta: ProfileMeta
    functions: pd.DataFrame
    lines: pd.DataFrame
    instructions: pd.DataFrame
    calls: pd.DataFrame

    def self_cost(self, event: str) -> pd.Series:
        """Self cost of ``event`` per function name, summed over objects (what annotators print)."""
        return self.functions.groupby("function")[f"self_{event}"].sum()

    def inclusive_cost(self, event: str) -> pd.Series:
        return self.functions.groupby("function")[f"incl_{event}"].sum()
