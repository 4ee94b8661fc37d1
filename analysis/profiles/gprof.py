"""Reader for gprof's text output (binutils gprof, ``gprof [-b] prog gmon.out``; notes in
reference/profile-formats.md §1.3): the flat profile and the call graph, with or without ``-b``.

gprof measures time by sampling (``Each sample counts as 0.01 seconds.``) and counts calls exactly.
Seconds are turned back into whole samples (self seconds / sample period) so costs stay int64 like
every other format: one event, ``samples``, whose unit is the period.

One pass, line by line; memory follows the number of functions and call arcs.

Semantics worth knowing:
* the flat profile's ``calls`` is gprof's own figure: calls from other functions (a recursive
  function's calls to itself are not in it; they are in the call graph as ``1+75024`` and appear
  here as a self edge in ``calls``); it is blank, and NA here, for functions gprof did not count;
* ``incl_samples`` is self + children of the function's primary call-graph line; children time is
  gprof's estimate, apportioned to callers by call counts (so it is rounded to the period);
* every arc is read once, from the callers listed above its callee's primary line; arcs inside a
  cycle and recursive calls carry a count but no time (their samples are 0);
* ``<cycle N as a whole>`` entries are not functions (their time is their members'); ``<cycle N>``
  and ``(file.c)`` suffixes are taken off names, the file going to the ``file`` column;
* ``gprof -l`` rows ``chase (hot.c:8 @ 1368)`` fill ``lines`` and ``instructions`` (self samples by
  source line and by address) and are summed per function; its call graph carries no time;
* text between the tables (the explanations gprof prints without ``-b``) and the index are skipped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from analysis.profiles.model import Event, Profile, ProfileFormatError, ProfileMeta, read_lines

EVENT = "samples"
DEFAULT_PERIOD = 0.01  # gprof's 100 Hz on Linux
PERIOD = re.compile(r"^Each sample counts as ([0-9.eE+-]+) (\w+)\.?\s*$")
FLAT_HEAD = re.compile(r"^\s*time\s+seconds\s+seconds\s+(?:calls\s+(\S+)/call\s+\S+/call\s+)?name\s*$")
FLAT_ROW = re.compile(
    r"^\s*(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)(?:\s+(\d+)(?:\s+(\d+\.\d+)\s+(\d+\.\d+))?)?\s+(\S.*?)\s*$"
)
GRAPH_HEAD = re.compile(r"^index\s+%\s+time\s+self\s+children\s+called\s+name\s*$")
PRIMARY = re.compile(
    r"^\[(\d+)\]\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(?:(\d+)(?:\+(\d+))?\s+)?(\S.*?)\s+\[\d+\]\s*$"
)
ARC = re.compile(r"^\s+(?:(\d+\.\d+)\s+(\d+\.\d+)\s+)?(?:(\d+)(?:[/+](\d+))?\s+)?(\S.*?)\s+[\[(]\d+[\])]\s*$")
SEPARATOR = re.compile(r"^-{10,}\s*$")
CYCLE_MEMBER = re.compile(r"\s+<cycle \d+>$")
CYCLE_WHOLE = re.compile(r"^<cycle \d+ as a whole>$")
LOCATION = re.compile(r"^(.*\S) \(([^()]+):(\d+) @ ([0-9a-fA-F]+)\)$")
FILE_SUFFIX = re.compile(r"^(.*\S) \(([^()\s]+\.[^()\s]+)\)$")
SPONTANEOUS = "<spontaneous>"
UNITS = {"seconds": 1.0, "second": 1.0, "milliseconds": 1e-3, "microseconds": 1e-6}


def parse_gprof(source: str | Path | Iterable[str]) -> Profile:
    """Parse gprof's text output (a path, or an iterable of text lines)."""
    return read_lines(source, _Reader().read)


def parse_gprof_text(text: str) -> Profile:
    return _Reader().read(io.StringIO(text))


def sniff_gprof(head: str) -> bool:
    """True when the first few KB of a file look like gprof output (flat profile or call graph)."""
    lines = [line.strip() for line in head.splitlines()[:400]]
    flat = "Flat profile:" in lines and any(PERIOD.match(line) for line in lines)
    graph = any(GRAPH_HEAD.match(line) for line in lines) and any(
        line.startswith("Call graph") for line in lines
    )
    return flat or graph


def _split_name(text: str) -> tuple[str, str]:
    """``even <cycle 1>`` → ("even", ""); ``helper (hot.c)`` → ("helper", "hot.c");
    ``chase (hot.c:8 @ 1368)`` (``gprof -l``) → ("chase", "")."""
    return _locate(text)[0]


def _locate(text: str) -> tuple[tuple[str, str], tuple[str, int, int] | None]:
    """The function's key and, in ``gprof -l`` output, the (file, line, address) of the row."""
    name = CYCLE_MEMBER.sub("", text.strip())
    location = LOCATION.match(name)
    if location:
        where = (location.group(2), int(location.group(3)), int(location.group(4), 16))
        return (location.group(1), ""), where
    suffix = FILE_SUFFIX.match(name)
    return ((suffix.group(1), suffix.group(2)) if suffix else (name, "")), None


class _Reader:
    def __init__(self) -> None:
        self.period: float | None = None
        self.period_assumed = False
        self.flat: dict[tuple[str, str], tuple[int, int | None]] = {}  # key -> (self samples, calls)
        self.flat_seconds = 0.0
        self.flat_cumulative = 0.0
        self.primary: dict[tuple[str, str], tuple[int, int, int | None]] = {}  # self, incl, called
        self.arcs: dict[tuple[tuple[str, str], tuple[str, str]], list[int]] = {}  # -> [calls, samples]
        self.seen_flat = self.seen_graph = False
        # gprof -l: self samples by (function, file, line) and by address; a function's first file
        self.lines: dict[tuple[tuple[str, str], str, int], int] = {}
        self.addresses: dict[tuple[tuple[str, str], int], int] = {}
        self.files: dict[tuple[str, str], str] = {}
        self.block: list[str] = []  # lines of the call-graph block being read
        self.block_start = 0

    def read(self, lines: Iterable[str]) -> Profile:
        reached = [0]
        try:
            self._body(iter(lines), reached)
            return self._profile()
        except ProfileFormatError:
            raise
        except UnicodeDecodeError as error:
            raise ProfileFormatError(f"not text ({error.reason})", reached[0] + 1) from None
        except (ValueError, IndexError, KeyError, TypeError, OverflowError, ZeroDivisionError) as error:
            raise ProfileFormatError(f"malformed line ({error})", reached[0]) from None

    # -- the line loop ----------------------------------------------------------------------------

    def _body(self, lines: Iterator[str], reached: list[int]) -> None:  # noqa: C901, PLR0912
        """States: ``start``, ``flat-head`` (until the column header), ``flat`` (rows), ``graph-head``,
        ``graph`` (blocks), ``skip`` (explanations and the index, until a new section)."""
        state = "start"
        number = 0
        try:
            for number, raw in enumerate(lines, 1):
                line = raw.rstrip("\n").rstrip("\r").replace("\f", "")
                stripped = line.strip()
                if stripped == "Flat profile:":
                    if state in ("graph", "graph-head") or self.seen_flat:
                        raise ProfileFormatError("a second flat profile", number)
                    state, self.seen_flat = "flat-head", True
                elif stripped.startswith("Call graph") and state != "graph":
                    if self.seen_graph:
                        raise ProfileFormatError("a second call graph", number)
                    state, self.seen_graph = "graph-head", True
                    if self.period is None:  # ``gprof -q`` prints no sample period
                        self.period, self.period_assumed = DEFAULT_PERIOD, True
                elif state == "start":
                    if stripped:
                        raise ProfileFormatError(f"not gprof output: {stripped[:60]!r}", number)
                elif state == "flat-head":
                    state = self._flat_head(line, stripped, number)
                elif state == "flat":
                    state = self._flat_row(line, stripped, number)
                elif state == "graph-head":
                    if GRAPH_HEAD.match(stripped):
                        state = "graph"
                        self.block_start = number + 1
                elif state == "graph":
                    state = self._graph_line(line, stripped, number)
            if state == "graph" and self.block:
                raise ProfileFormatError("the call graph ends inside a block (truncated?)", number)
            if state in ("flat-head", "graph-head"):
                raise ProfileFormatError("the file ends before the table starts (truncated?)", number)
        finally:
            reached[0] = number
        if not (self.flat or self.primary):
            raise ProfileFormatError("no flat profile and no call graph: not gprof output", number)

    def _flat_head(self, line: str, stripped: str, number: int) -> str:
        period = PERIOD.match(stripped)
        if period:
            self.period = float(period.group(1)) * UNITS.get(period.group(2), 1.0)
            if not self.period > 0:
                raise ProfileFormatError(f"sample period {period.group(1)} is not positive", number)
        elif FLAT_HEAD.match(line):
            if self.period is None:
                raise ProfileFormatError("flat profile without 'Each sample counts as'", number)
            return "flat"
        return "flat-head"

    def _flat_row(self, line: str, stripped: str, number: int) -> str:
        if not stripped:
            return "skip"
        row = FLAT_ROW.match(line)
        if row is None:
            raise ProfileFormatError(f"not a flat profile row: {stripped[:60]!r}", number)
        seconds = float(row.group(3))
        self.flat_seconds += seconds
        self.flat_cumulative = float(row.group(2))
        # Every row's cumulative is the running sum of the self seconds: a garbled row breaks it.
        if abs(self.flat_cumulative - self.flat_seconds) > 0.0051 * (len(self.flat) + 1):
            raise ProfileFormatError(
                f"cumulative seconds {row.group(2)} is not the sum of the self seconds above it", number
            )
        key, where = _locate(row.group(7))
        if where is not None:
            self._line(key, where, self._samples(seconds))
        samples, calls = self.flat.get(key, (0, None))
        count = int(row.group(4)) if row.group(4) is not None else None
        if count is not None:
            calls = (calls or 0) + count
        self.flat[key] = (samples + self._samples(seconds), calls)
        return "flat"

    def _line(self, key: tuple[str, str], where: tuple[str, int, int], samples: int) -> None:
        file, line, address = where
        self.files.setdefault(key, file)
        self.lines[(key, file, line)] = self.lines.get((key, file, line), 0) + samples
        self.addresses[(key, address)] = self.addresses.get((key, address), 0) + samples

    def _graph_line(self, line: str, stripped: str, number: int) -> str:
        if SEPARATOR.match(stripped):
            if not self.block:
                raise ProfileFormatError("an empty call-graph block", number)
            self._block(self.block, self.block_start)
            self.block = []
            self.block_start = number + 1
            return "graph"
        if not stripped:
            if self.block:
                raise ProfileFormatError("the call graph ends inside a block (truncated?)", number)
            return "skip"
        self.block.append(line)
        if len(self.block) > 1_000_000:
            raise ProfileFormatError("a call-graph block of over a million lines", number)
        return "graph"

    # -- call-graph blocks ------------------------------------------------------------------------

    def _block(self, lines: list[str], start: int) -> None:
        primary_at = next((i for i, line in enumerate(lines) if line.startswith("[")), None)
        if primary_at is None:
            raise ProfileFormatError("a call-graph block without its primary [index] line", start)
        primary = PRIMARY.match(lines[primary_at])
        if primary is None:
            raise ProfileFormatError(
                f"malformed primary line: {lines[primary_at].strip()[:60]!r}", start + primary_at
            )
        arcs = [self._arc(line, start + i) for i, line in enumerate(lines) if i != primary_at]
        if CYCLE_WHOLE.match(primary.group(7)):
            return  # its callers are its members' callers, its "callees" its members
        callee = _split_name(primary.group(7))
        self_samples = self._samples(float(primary.group(3)))
        incl = self_samples + self._samples(float(primary.group(4)))
        called = int(primary.group(5)) if primary.group(5) is not None else None
        self.primary[callee] = (self_samples, incl, called)
        for caller in arcs[:primary_at]:
            if caller is not None:
                name, calls, samples = caller
                acc = self.arcs.setdefault((name, callee), [0, 0])
                acc[0] += calls
                acc[1] += samples

    def _arc(self, line: str, number: int) -> tuple[tuple[str, str], int, int] | None:
        if line.strip() == SPONTANEOUS:
            return None
        arc = ARC.match(line)
        if arc is None:
            raise ProfileFormatError(f"malformed call-graph line: {line.strip()[:60]!r}", number)
        if CYCLE_WHOLE.match(arc.group(5)):
            return None
        seconds = float(arc.group(1) or 0) + float(arc.group(2) or 0)
        calls = int(arc.group(3)) if arc.group(3) is not None else 0
        return _split_name(arc.group(5)), calls, self._samples(seconds)

    def _samples(self, seconds: float) -> int:
        return round(seconds / (self.period or DEFAULT_PERIOD))

    # -- DataFrames -------------------------------------------------------------------------------

    def _profile(self) -> Profile:
        self.period = self.period or DEFAULT_PERIOD
        if self.period_assumed:
            period_note = f"no sample period in the file (call graph only): {DEFAULT_PERIOD} s assumed"
        else:
            period_note = f"gprof samples every {self.period:g} s; self seconds = samples × {self.period:g}"
        functions = self._functions()
        calls = pd.DataFrame(
            [(a[0], "", b[0], "", c, s) for (a, b), (c, s) in self.arcs.items()],
            columns=["caller", "caller_object", "callee", "callee_object", "calls", EVENT],
        ).astype({"calls": "int64", EVENT: "int64"})
        notes = [period_note]
        if self.period < 0.01:  # gprof prints seconds to 0.01: finer samples are rounded
            notes.append(
                f"seconds are printed to 0.01 s, so sample counts are rounded to {0.01 / self.period:g}"
            )
        if self.lines:
            notes.append("gprof -l: self samples by source line; its call graph carries no time")
        if self.primary:
            notes.append("inclusive samples are gprof's estimates (children time apportioned by call counts)")
        else:
            notes.append("no call graph: inclusive samples are the self samples")
        total = int(functions[f"self_{EVENT}"].sum())
        event = Event(
            EVENT, "samples", "sampled", unit=f"{self.period:g} s", label=f"Samples of {self.period:g} s"
        )
        meta = ProfileMeta(
            tool="gprof",
            command="",
            events=(EVENT,),
            totals={EVENT: total},
            summary={EVENT: self._samples(self.flat_cumulative)} if self.flat else None,
            creator="gprof",
            positions=(),
            event_info={EVENT: event},
            notes=tuple(notes),
        )
        return Profile(
            meta=meta,
            functions=functions,
            lines=self._lines(),
            instructions=self._instructions(),
            calls=calls,
        )

    def _functions(self) -> pd.DataFrame:
        keys = dict.fromkeys([*self.flat, *self.primary])
        for caller, callee in self.arcs:
            keys.setdefault(caller)
            keys.setdefault(callee)
        rows = []
        for key in keys:
            flat = self.flat.get(key)
            primary = self.primary.get(key)
            self_samples = flat[0] if flat else (primary[0] if primary else 0)
            incl = max(primary[1], self_samples) if primary else self_samples
            calls = flat[1] if flat else (primary[2] if primary else None)
            rows.append((key[0], "", key[1] or self.files.get(key, ""), self_samples, incl, calls))
        columns = ["function", "object", "file", f"self_{EVENT}", f"incl_{EVENT}", "calls"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype({f"self_{EVENT}": "int64", f"incl_{EVENT}": "int64", "calls": "Int64"})

    def _lines(self) -> pd.DataFrame:
        rows = [(key[0], "", file, line, samples) for (key, file, line), samples in self.lines.items()]
        frame = pd.DataFrame(rows, columns=["function", "object", "file", "line", EVENT])
        return frame.astype(
            {"function": "object", "object": "object", "file": "object", "line": "int64", EVENT: "int64"}
        )

    def _instructions(self) -> pd.DataFrame:
        rows = [(key[0], "", address, samples) for (key, address), samples in self.addresses.items()]
        frame = pd.DataFrame(rows, columns=["function", "object", "address", EVENT])
        frame = frame.astype({"function": "object", "object": "object", "address": "int64", EVENT: "int64"})
        frame = frame.assign(mnemonic=pd.Series(dtype="string"), operands=pd.Series(dtype="string"))
        return frame.assign(vector_width=pd.Series(dtype="Int64"))
