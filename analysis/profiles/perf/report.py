"""``perf report --stdio`` output: the rows of each event's table."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from analysis.profiles.model import Profile, ProfileFormatError, only_format_errors, read_lines
from analysis.profiles.perf.costs import CMDLINE, Costs, describe_perf_event

REPORT_SAMPLES = re.compile(r"^#\s*Samples:\s*(?P<count>\S+)\s+of event\s+'(?P<event>[^']+)'")
EVENT_COUNT = re.compile(r"^#\s*Event count \(approx\.\):\s*(?P<count>\d+)\s*$")
LOST = re.compile(r"^#\s*Total Lost Samples:\s*(?P<count>\d+)")
DOTS = re.compile(r"\.+")
PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
SYMBOL_MARK = re.compile(r"^\[[.kgHu]\] ")
PERCENT_COLUMNS = frozenset(("Children", "Self", "Overhead"))
INT_COLUMNS = frozenset(("Samples", "Period"))


def parse_perf_report(source: str | Path | Iterable[str]) -> Profile:
    """Parse ``perf report --stdio`` output (a path, or an iterable of text lines)."""
    return read_lines(source, ReportReader().read)


def parse_perf_report_text(text: str) -> Profile:
    return ReportReader().read(io.StringIO(text))


def sniff_perf_report(head: str) -> bool:
    lines = head.splitlines()[:400]
    return any(REPORT_SAMPLES.match(line) for line in lines) or (
        any(EVENT_COUNT.match(line) for line in lines)
        and any(re.match(r"^#\s+(Overhead|Children)\b", line) for line in lines)
    )


def _abbreviated(count: str) -> int:
    """perf report abbreviates its sample count: ``436``, ``3K``, ``12M``."""
    scale = {"K": 1000, "M": 1000**2, "G": 1000**3}.get(count[-1:].upper(), 1)
    return int(float(count[:-1] if scale > 1 else count) * scale)


class ReportReader:
    def __init__(self) -> None:
        self.costs = Costs()
        self.number = 0
        self.event: str | None = None
        self.event_count: int | None = None
        self.sample_count: int | None = None
        self.columns: list[tuple[str, int]] | None = None  # (name, start)
        self.previous_comment = ""
        self.rows = 0
        self.estimated: set[str] = set()
        self.no_children: set[str] = set()
        self.children: set[str] = set()
        self.summary: dict[str, int] = {}
        self.period_sums: dict[str, int] = defaultdict(int)
        self.lost = 0
        self.command = ""
        self.sections = 0

    @only_format_errors
    def read(self, lines: Iterable[str]) -> Profile:
        for self.number, raw in enumerate(lines, 1):  # noqa: B007
            line = raw.rstrip("\n").rstrip("\r")
            if line.startswith("#"):
                self._comment(line)
            elif line.strip():
                self._row(line)
        if not self.sections:
            raise ProfileFormatError(
                "no '# Samples: … of event' header: not perf report --stdio", self.number
            )
        if not self.rows:
            raise ProfileFormatError("no rows (truncated?)", self.number)
        meta = {"tool": "perf", "command": self.command, "creator": "perf report", "positions": ()}
        meta["summary"] = dict(self.summary) or None
        return self.costs.profile(meta, self._notes())

    def _notes(self) -> list[str]:
        notes = ["sampled costs: sums of sample periods (perf's Period), an estimate of each event's count"]
        for event in sorted(self.estimated):
            notes.append(f"{event}: estimated from overhead % × the event count (no Period column)")
        for event in sorted(self.children):
            notes.append(f"{event}: inclusive costs estimated from Children % × the event count")
        for event in sorted(self.no_children):
            notes.append(f"{event}: no Children column, inclusive costs are the self costs")
        for event, total in self.period_sums.items():
            if self.summary.get(event, total) != total:
                notes.append(f"{event}: the rows hold {total} of the {self.summary[event]} events counted")
        if self.lost:
            notes.append(f"perf lost {self.lost} samples")
        return notes

    def _comment(self, line: str) -> None:
        if (samples := REPORT_SAMPLES.match(line)) is not None:
            self.event, self.event_count, self.columns = samples.group("event"), None, None
            self.sample_count = _abbreviated(samples.group("count"))
            self.sections += 1
            if self.event not in self.costs.events:
                self.costs.events[self.event] = describe_perf_event(self.event)
        elif (count := EVENT_COUNT.match(line)) is not None:
            self.event_count = int(count.group("count"))
            if self.event is not None:
                self.summary[self.event] = self.summary.get(self.event, 0) + self.event_count
        elif (lost := LOST.match(line)) is not None:
            self.lost += int(lost.group("count"))
        elif (command := CMDLINE.match(line)) is not None:
            self.command = command.group("cmd")
        elif line[1:].strip() and set(line[1:].strip()) <= {".", " "}:
            self._column_header(self.previous_comment, line)
        self.previous_comment = line

    def _column_header(self, names: str, dots: str) -> None:
        if self.event is None:
            raise ProfileFormatError("a column header before '# Samples: … of event'", self.number)
        starts = [match.start() for match in DOTS.finditer(dots)]
        bounds = [*starts[1:], None]
        columns = []
        for i, (start, end) in enumerate(zip(starts, bounds, strict=True)):
            name = names[(0 if i == 0 else start) : end].strip().lstrip("#").strip()
            columns.append((name, 0 if i == 0 else start))
        found = {name for name, _ in columns}
        if "Symbol" not in found:
            raise ProfileFormatError("perf report without a Symbol column (use --sort …,sym)", self.number)
        if not found & {"Overhead", "Self", "Period"}:
            raise ProfileFormatError("perf report without an Overhead, Self or Period column", self.number)
        self.columns = columns
        event = self.event
        if "Period" not in found:
            self.estimated.add(event)
            self.costs.events[event] = describe_perf_event(event, "estimated")
        if "Children" not in found:
            self.no_children.add(event)
        else:
            self.children.add(event)
        if "Samples" in found:
            self.costs.counted.add(event)

    def _row(self, line: str) -> None:
        if self.columns is None or self.event is None:
            raise ProfileFormatError(f"not perf report output: {line.strip()[:60]!r}", self.number)
        starts = [start for _, start in self.columns]
        if not line[: starts[1] if len(starts) > 1 else None].strip():
            return  # a call-graph tree line (they are indented past the first column)
        if len(line) <= starts[-1]:
            raise ProfileFormatError(f"a row cut short: {line.strip()[:60]!r}", self.number)
        cells = {
            name: line[start : (starts[i + 1] if i + 1 < len(starts) else None)].strip()
            for i, (name, start) in enumerate(self.columns)
        }
        for name, value in cells.items():  # every number is checked, used or not
            if name in PERCENT_COLUMNS and PERCENT.match(value) is None:
                raise ProfileFormatError(f"{name} {value[:20]!r} is not a percentage", self.number)
            if name in INT_COLUMNS and not value.isdigit():
                raise ProfileFormatError(f"{name} {value[:20]!r} is not a whole number", self.number)
        self._add(cells)
        self.rows += 1

    def _add(self, cells: dict[str, str]) -> None:
        event = self.event or ""
        symbol = SYMBOL_MARK.sub("", cells["Symbol"])
        if not symbol:
            raise ProfileFormatError("a row without a symbol", self.number)
        fid = self.costs.fid(symbol, cells.get("Shared Object", ""))
        if "Period" in cells:
            own = self._int(cells, "Period")
            self.period_sums[event] += own
        else:
            own = self._scaled(cells, "Self" if "Self" in cells else "Overhead", self.event_count)
        incl = self._scaled(cells, "Children", self.event_count) if "Children" in cells else own
        costs, measure = self.costs, (event, 0)
        costs.self_cost[(fid, measure)] += own
        costs.incl_cost[(fid, measure)] += max(incl, own)
        if "Samples" in cells:
            count = self._int(cells, "Samples")
            children = "Children" in cells
            incl = self._scaled(cells, "Children", self.sample_count) if children else count
            costs.self_cost[(fid, (event, 1))] += count
            costs.incl_cost[(fid, (event, 1))] += max(incl, count)

    def _scaled(self, cells: dict[str, str], column: str, total: int | None) -> int:
        """A percentage of the section's event count (or sample count): an estimate."""
        match = PERCENT.match(cells[column])
        if match is None:
            raise ProfileFormatError(f"{column} {cells[column][:20]!r} is not a percentage", self.number)
        if total is None:
            raise ProfileFormatError(
                "percentages without '# Event count (approx.)' to scale them", self.number
            )
        return round(float(match.group(1)) * total / 100)

    def _int(self, cells: dict[str, str], column: str) -> int:
        if not cells[column].isdigit():
            raise ProfileFormatError(f"{column} {cells[column][:20]!r} is not a whole number", self.number)
        return int(cells[column])
