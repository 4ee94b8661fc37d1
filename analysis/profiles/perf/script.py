"""``perf script`` output: samples with or without call chains, default or pinned ``-F`` fields."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from analysis.profiles.model import Profile, ProfileFormatError, only_format_errors, read_lines
from analysis.profiles.perf.costs import CMDLINE, Costs, describe_perf_event

SCRIPT_HEADER = re.compile(
    r"^\s*(?P<comm>\S.*?)\s+(?P<pid>-?\d+)(?:/(?P<tid>-?\d+))?\s+(?:\[(?P<cpu>\d+)\]\s+)?"
    r"(?P<time>\d+\.\d+):\s+(?:(?P<period>\d+)\s+)?(?P<event>\S+):(?:\s+(?P<rest>.*?))?\s*$"
)
SRCLINE = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+)$")
HEX = frozenset("0123456789abcdefABCDEF")
MAX_FRAMES = 100_000


def parse_perf_script(source: str | Path | Iterable[str]) -> Profile:
    """Parse ``perf script`` output (a path, or an iterable of text lines)."""
    return read_lines(source, ScriptReader().read)


def parse_perf_script_text(text: str) -> Profile:
    return ScriptReader().read(io.StringIO(text))


def sniff_perf_script(head: str) -> bool:
    """True when the first sample line of the first few KB is a perf script sample header."""
    for line in head.splitlines()[:200]:
        if line.strip() and not line.startswith("#"):
            return SCRIPT_HEADER.match(line) is not None
    return False


class ScriptReader:
    def __init__(self) -> None:
        self.costs = Costs()
        self.number = 0
        self.sample: tuple[str, int, int] | None = None  # event, period, line number
        self.frames: list[int] = []
        self.leaf_address: int | None = None
        self.leaf_srcline: tuple[str, int] | None = None
        self.chained = False  # call-chain frames (perf record -g) were seen: lines of their own
        self.with_dso: bool | None = None
        self.samples = 0
        self.without_period = False
        self.command = ""

    @only_format_errors
    def read(self, lines: Iterable[str]) -> Profile:
        self._body(iter(lines))
        self._end_sample()
        if not self.samples:
            raise ProfileFormatError("no samples: not perf script output (or empty)", self.number)
        notes = [
            "costs are sums of sample periods (perf's Period), an estimate of each event's count",
            "call edges count samples whose call chain holds the edge, not calls",
        ]
        if self.without_period:
            notes.append("no period field in the samples: each sample counts 1")
        if not self.chained and not self.costs.edges:
            notes.append("no call chains (perf record without -g): inclusive costs are the self costs")
        meta = {"tool": "perf", "command": self.command, "creator": "perf script"}
        positions = ("line",) if self.costs.lines else ()
        return self.costs.profile({**meta, "positions": positions}, notes)

    def _body(self, lines: Iterator[str]) -> None:
        for self.number, raw in enumerate(lines, 1):  # noqa: B007 (self.number is read on errors)
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                self._end_sample()
            elif line[0] == "\t":
                self._frame(line.strip(), chained=True)
            elif line.startswith("#"):
                command = CMDLINE.match(line)
                if command:
                    self.command = command.group("cmd")
            elif line.startswith("  ") and self.frames and SCRIPT_HEADER.match(line) is None:
                self._srcline(line.strip())
            else:
                self._header(line)

    def _header(self, line: str) -> None:
        header = SCRIPT_HEADER.match(line)
        if header is None:
            raise ProfileFormatError(f"not a perf script sample line: {line.strip()[:60]!r}", self.number)
        self._end_sample()
        event = header.group("event")
        if header.group("period") is None:
            self.without_period = True
        period = int(header.group("period") or 1)
        self.sample = (event, period, self.number)
        if event not in self.costs.events:
            self.costs.events[event] = describe_perf_event(event)
            self.costs.counted.add(event)
        if header.group("rest"):
            self._frame(header.group("rest"), chained=False)

    def _frame(self, text: str, *, chained: bool) -> None:
        if self.sample is None:
            raise ProfileFormatError("a call-chain frame outside a sample", self.number)
        if chained:
            self.chained = True
        address, _, rest = text.partition(" ")
        if not address or not set(address) <= HEX:
            raise ProfileFormatError(f"not a frame (address sym+off (dso)): {text[:60]!r}", self.number)
        rest = rest.strip()
        obj = ""
        has_dso = rest.endswith(")") and " (" in rest
        if has_dso:
            open_at = rest.rfind(" (") if rest.count("(") == 1 else _dso_start(rest)
            rest, obj = rest[:open_at].rstrip(), rest[open_at + 2 : -1]
        if self.with_dso is None:
            self.with_dso = has_dso
        elif self.with_dso != has_dso:
            raise ProfileFormatError(
                f"a frame without its (dso), unlike the others: {text[:60]!r}", self.number
            )
        symbol = _strip_offset(rest)
        if symbol in ("", "[unknown]"):
            symbol = _unknown_symbol(int(address, 16))
        if len(self.frames) >= MAX_FRAMES:
            raise ProfileFormatError("a call chain of over 100 000 frames", self.number)
        if not self.frames and chained:
            self.leaf_address = int(address, 16)
        self.frames.append(self.costs.fid(symbol, obj))

    def _srcline(self, text: str) -> None:
        """perf prints a frame's source line under it; only the leaf's is a self cost."""
        if len(self.frames) == 1:
            where = SRCLINE.match(text)
            if where and where.group("file") != "??":
                self.leaf_srcline = (where.group("file"), int(where.group("line")))

    def _end_sample(self) -> None:
        if self.sample is None:
            return
        event, period, number = self.sample
        frames = self.frames
        if not frames:
            raise ProfileFormatError("a sample without frames (truncated, or -F without ip,sym)", number)
        costs, measure, count = self.costs, (event, 0), (event, 1)
        leaf = frames[0]
        costs.self_cost[(leaf, measure)] += period
        costs.self_cost[(leaf, count)] += 1
        for fid in set(frames):
            costs.incl_cost[(fid, measure)] += period
            costs.incl_cost[(fid, count)] += 1
        for caller, callee in set(zip(frames[1:], frames, strict=False)):
            costs.edges[(caller, callee, measure)] += period
            costs.edges[(caller, callee, count)] += 1
        if self.leaf_srcline is not None:
            file, line = self.leaf_srcline
            costs.lines[(leaf, file, line, measure)] += period
            costs.lines[(leaf, file, line, count)] += 1
        if self.leaf_address is not None:
            costs.addresses[(leaf, self.leaf_address, measure)] += period
            costs.addresses[(leaf, self.leaf_address, count)] += 1
        self.samples += 1
        self.sample, self.frames = None, []
        self.leaf_address = self.leaf_srcline = None


def _dso_start(text: str) -> int:
    """Where `` (dso)`` starts, the dso itself possibly holding parentheses (``(x (deleted))``)."""
    depth = 0
    for at in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[at], 0)
        if depth == 0:
            if at == 0 or text[at - 1] != " ":
                raise ValueError("unbalanced (dso)")
            return at - 1
    raise ValueError("unbalanced (dso)")


def _unknown_symbol(address: int) -> str:
    """A frame without a symbol, named as perf report names it: C's "%-#.16llx", whose # adds
    no 0x to a zero address."""
    return f"0x{address:016x}" if address else "0" * 16


def _strip_offset(symbol: str) -> str:
    """``main+0x38`` → ``main``; names are kept whole otherwise (``operator+`` has no 0x after it)."""
    head, plus, offset = symbol.rpartition("+0x")
    if plus and offset and set(offset) <= HEX:
        return head
    return symbol
