"""Reader for Intel SDE ``-mix`` output ("# Mix output version 10"; notes in
reference/profile-formats.md §1.4).

SDE writes, per thread, the hottest basic blocks with their disassembly, an opcode histogram with
``*`` group lines, a function table and one histogram per hot function; then the same for the whole
run (``GLOBAL`` sections). Threads are not part of the profile model: per-thread figures are summed,
and where SDE wrote a global section its figures are taken as they are (SDE lists more threads'
work there than the per-thread top lists hold).

Checks: every histogram's opcode lines sum to its ``*total`` and a thread's function table
``TOTAL`` equals that thread's ``*total``; a section left open at the end of the file means a
truncated file. Names may hold spaces and commas, so ``name count`` is split on the last blank.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.profiles.model import (
    MIX_COLUMNS,
    Profile,
    ProfileFormatError,
    ProfileMeta,
    empty_blocks,
    empty_mix,
    only_format_errors,
    read_lines,
)
from analysis.profiles.objdump import classify, split_instruction

EVENT = "icount"
MAGIC = "# Mix output version"
BLOCK = re.compile(
    r"BLOCK:\s+\d+\s+PC:\s+([0-9a-fA-F]+)\s+ICOUNT:\s+(\d+)\s+EXECUTIONS:\s+(\d+)\s+#BYTES:\s+\d+\s+"
    r"%:\s+\S+\s+cumltv%:\s+\S+\s+FN:\s+(.*?)\s+IMG:\s+(.*?)\s+OFFSET:\s+[0-9a-fA-F]+\s*$"
)
XDIS = re.compile(r"XDIS ([0-9a-fA-F]+): (\S+)\s+([0-9A-Fa-f]+)\s+(.*?)\s*$")
FUNCTION_ROW = re.compile(
    r"\s*\d+:\s+(\d+)\s+[\d.]+\s+[\d.]+\s+(\d+)\s+([0-9a-fA-F]+)\s+(.*?)\s+IMG:\s+(.*?)\s*$"
)
FUNCTION_TOTAL = re.compile(r"\s*(\d+)\s+TOTAL\s*$")
TID = re.compile(r"FOR TID (\d+)")
FUNCTION_HISTOGRAM = re.compile(r"# \$dynamic-counts-for-function: (.*?)\s+IMG: (.*) at \[0x[0-9a-fA-F]+, ")
# The * groups that carry the vector width of the counted instructions; the rest is scalar.
WIDTH_GROUPS = {"*avx512": "zmm", "*avx256": "ymm", "*avx128": "xmm", "*sse-packed": "xmm"}
PREFIXED_GROUPS = (("*isa-ext-", "isa_ext"), ("*isa-set-", "isa_set"), ("*category-", "category"))
MEMORY_GROUP = re.compile(r"\*mem-(read|write)-(\d+)$")
# Sections: the marker that opens one, the section kind, and the marker that closes it.
OPENERS = (
    ("# EMIT_IMAGE_ADDRESSES", "images"),
    ("# EMIT_GLOBAL_TOP_BLOCK_STATS", "global_blocks"),
    ("# EMIT_TOP_BLOCK_STATS", "blocks"),
    ("# EMIT_GLOBAL_DYNAMIC_STATS", "global_dynamic"),
    ("# EMIT_DYNAMIC_STATS", "dynamic"),
    ("#GLOBAL FUNCTION TOTALS", "global_functions"),
    ("# FUNCTION TOTALS", "functions"),
    ("# EMIT_PER_FUNCTION_STATS", "per_function"),
    ("# EMIT_STATIC_STATS", "static"),
)
CLOSERS = (
    "# END_IMAGE_ADDRESSES",
    "# END_TOP_BLOCK_STATS",
    "# END_DYNAMIC_STATS",
    "# END_GLOBAL_DYNAMIC_STATS",
    "# END FUNCTION TOTALS",
    "# END_PER_FUNCTION_STATS",
    "# END_STATIC_STATS",
)


@dataclass
class _Scope:
    """Figures of one thread's sections summed into one place (or the global sections')."""

    blocks: dict[tuple[str, int], list] = field(default_factory=dict)  # (img, pc) -> [fn, icount, execs, n]
    instructions: dict[tuple[str, int], list] = field(
        default_factory=dict
    )  # (img, pc) -> [fn, text, ext, bytes, execs]
    functions: dict[tuple[str, str], list[int]] = field(
        default_factory=dict
    )  # (fn, img) -> [icount, calls, pc]
    mixes: dict[tuple[str, str], Counter] = field(default_factory=dict)  # ("", "") is the whole program
    threads: set[int] = field(default_factory=set)


def sniff_sde_mix(head: str) -> bool:
    return head.lstrip().startswith(MAGIC)


def parse_sde_mix(source: str | Path | Iterable[str]) -> Profile:
    """Parse an SDE ``-mix`` output file (a path, or an iterable of text lines)."""
    return read_lines(source, _Reader().parse)


class _Reader:
    def __init__(self) -> None:
        self.number = 0
        self.creator = ""
        self.section: str | None = None
        self.opened_at = 0
        self.tid = -1
        self.global_part = False  # SDE writes the global sections after all threads
        self.threads = _Scope()
        self.whole = _Scope()
        self.scope = self.threads
        self.block: list | None = None  # the block XDIS lines belong to
        self.block_image = ""
        self.block_executions = 0
        self.histogram_whole = False
        self.histogram: Counter | None = None
        self.histogram_key: tuple[str, str] | None = None
        self.histogram_start = 0
        self.thread_totals: dict[int, int] = {}  # *total of each thread's histogram
        self.function_totals: list[tuple[int, int, int]] = []  # (tid, TOTAL, line number)
        self.global_total: int | None = None
        self.seen_histogram = False

    # -- driver ---------------------------------------------------------------------------------

    @only_format_errors
    def parse(self, lines: Iterable[str]) -> Profile:
        self.read(lines)
        return self.profile()

    def read(self, lines: Iterable[str]) -> None:
        for self.number, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            if self.number == 1:
                if not line.startswith(MAGIC):
                    raise ProfileFormatError("not an SDE mix file (no '# Mix output version')", 1)
                continue
            if not line.strip():
                continue
            if line.startswith("#"):
                self._comment(line)
            else:
                self._row(line)
        if self.number == 0:
            raise ProfileFormatError("empty file", 0)
        if self.section is not None:
            raise ProfileFormatError(
                f"the {self.section} section opened at line {self.opened_at} never ends (truncated?)",
                self.number,
            )
        if not self.seen_histogram:
            raise ProfileFormatError("no dynamic counts in the file", self.number)

    def _comment(self, line: str) -> None:
        if line.startswith("# Intel(R) SDE version:"):
            self.creator = line[2:].strip()
        for marker in CLOSERS:
            if line.startswith(marker):
                self._close()
                return
        for marker, kind in OPENERS:
            if line.startswith(marker):
                self._open(kind, line)
                return
        if line.startswith("# $global-dynamic-counts"):
            self._start_histogram(("", ""), whole=True)
        elif line.startswith("# $dynamic-counts-for-function:"):
            self._function_histogram(line)
        elif line.startswith("# $dynamic-counts") and self.section in ("dynamic", "global_dynamic"):
            self._start_histogram(("", ""), whole=False)

    def _open(self, kind: str, line: str) -> None:
        if self.section is not None:
            raise ProfileFormatError(
                f"{line.strip()[:40]!r} inside the {self.section} section opened at line {self.opened_at}",
                self.number,
            )
        self.section, self.opened_at = kind, self.number
        if kind.startswith("global"):
            self.global_part = True
        tid = TID.search(line)
        if tid and not self.global_part:
            self.tid = int(tid.group(1))
            self.threads.threads.add(self.tid)
        self.scope = self.whole if self.global_part else self.threads

    def _close(self) -> None:
        if self.section is None:
            raise ProfileFormatError("an END marker outside any section", self.number)
        self._end_histogram()
        self.section = None
        self.block = None

    # -- rows -----------------------------------------------------------------------------------

    def _row(self, line: str) -> None:
        section = self.section
        if section in ("images", "static"):
            return  # image ranges are not needed; SDE's static counts are empty (*total 0)
        if section in ("blocks", "global_blocks"):
            self._block_row(line)
        elif section in ("functions", "global_functions"):
            self._function_row(line)
        elif section in ("dynamic", "global_dynamic", "per_function"):
            self._count_row(line)
        else:
            raise ProfileFormatError(f"not an SDE mix line: {line.strip()[:60]!r}", self.number)

    def _block_row(self, line: str) -> None:
        if line.startswith("XDIS "):
            self._xdis(line)
            return
        match = BLOCK.match(line)
        if not match:
            raise ProfileFormatError(f"malformed BLOCK line: {line.strip()[:60]!r}", self.number)
        pc, icount, executions, function, image = match.groups()
        key = (image, int(pc, 16))
        block = self.scope.blocks.get(key)
        if block is None:
            block = self.scope.blocks[key] = [function, 0, 0, 0]
        block[1] += int(icount)
        block[2] += int(executions)
        block[3] = 0  # XDIS lines follow and are counted again
        self.block, self.block_image, self.block_executions = block, image, int(executions)

    def _xdis(self, line: str) -> None:
        match = XDIS.match(line)
        if not match or self.block is None:
            raise ProfileFormatError(f"malformed XDIS line: {line.strip()[:60]!r}", self.number)
        address, extension, raw, text = match.groups()
        self.block[3] += 1
        key = (self.block_image, int(address, 16))
        row = self.scope.instructions.get(key)
        if row is None:
            row = self.scope.instructions[key] = [self.block[0], text, extension, raw.lower(), 0]
        row[4] += self.block_executions  # each instruction of the block runs once per execution

    def _function_row(self, line: str) -> None:
        total = FUNCTION_TOTAL.match(line)
        if total:
            self.function_totals.append(
                (-1 if self.global_part else self.tid, int(total.group(1)), self.number)
            )
            return
        match = FUNCTION_ROW.match(line)
        if not match:
            raise ProfileFormatError(f"malformed function total: {line.strip()[:60]!r}", self.number)
        icount, calls, address, function, image = match.groups()
        row = self.scope.functions.setdefault((function, image), [0, 0, int(address, 16)])
        row[0] += int(icount)
        row[1] += int(calls)

    def _count_row(self, line: str) -> None:
        if self.histogram is None:
            raise ProfileFormatError(f"a count outside any histogram: {line.strip()[:60]!r}", self.number)
        name, count = line.rstrip().rsplit(None, 1)
        value = int(count)
        if value < 0:
            raise ProfileFormatError(f"negative count {count}", self.number)
        self.histogram[name.strip()] += value

    # -- histograms -----------------------------------------------------------------------------

    def _function_histogram(self, line: str) -> None:
        if self.section != "per_function":
            raise ProfileFormatError("a function histogram outside EMIT_PER_FUNCTION_STATS", self.number)
        match = FUNCTION_HISTOGRAM.match(line)
        if not match:
            raise ProfileFormatError(f"malformed function histogram header: {line[:60]!r}", self.number)
        self._start_histogram((match.group(1), match.group(2).strip()), whole=self.global_part)

    def _start_histogram(self, key: tuple[str, str], *, whole: bool) -> None:
        self._end_histogram()
        self.histogram, self.histogram_key, self.histogram_start = Counter(), key, self.number
        self.histogram_whole = whole

    def _end_histogram(self) -> None:
        histogram, key = self.histogram, self.histogram_key
        self.histogram = self.histogram_key = None
        if histogram is None or key is None or self.section == "static":
            return
        opcodes = sum(count for name, count in histogram.items() if not name.startswith("*"))
        total = histogram.get("*total")
        if total is None:
            raise ProfileFormatError("a histogram without *total (truncated?)", self.histogram_start)
        if opcodes != total:
            raise ProfileFormatError(
                f"the opcode counts sum to {opcodes}, not *total {total}", self.histogram_start
            )
        vector = sum(histogram.get(name, 0) for name in WIDTH_GROUPS)
        if vector > total:
            raise ProfileFormatError(f"vector groups count {vector} of *total {total}", self.histogram_start)
        self.seen_histogram = True
        if self.section == "global_dynamic" and not self.histogram_whole:
            return  # SDE's empty "$dynamic-counts" under EMIT_GLOBAL_DYNAMIC_STATS; the real one follows
        if key == ("", "") and not self.histogram_whole:
            self.thread_totals[self.tid] = self.thread_totals.get(self.tid, 0) + total
        elif key == ("", ""):
            self.global_total = total
        scope = self.whole if self.histogram_whole else self.threads
        scope.mixes.setdefault(key, Counter()).update(histogram)

    # -- result ---------------------------------------------------------------------------------

    def profile(self) -> Profile:
        self._check_totals()
        functions = _merged(self.threads.functions, self.whole.functions)
        blocks = _merged(self.threads.blocks, self.whole.blocks)
        instructions = _merged(self.threads.instructions, self.whole.instructions)
        mixes = _merged(self.threads.mixes, self.whole.mixes)
        total = self.global_total if self.global_total is not None else sum(self.thread_totals.values())
        threads = sorted(self.threads.threads)
        notes = [
            f"{len(threads)} thread(s) summed (tid {', '.join(map(str, threads))})" if threads else "",
            "SDE gives exclusive counts only: incl_icount is self_icount",
            f"functions lists the {len(functions)} functions SDE ranked, "
            f"{sum(row[0] for row in functions.values())} of {total} instructions",
        ]
        meta = ProfileMeta(
            tool="sde",
            command="",
            events=(EVENT,),
            totals={EVENT: total},
            creator=self.creator,
            positions=("instr",),
            notes=tuple(note for note in notes if note),
        )
        return Profile(
            meta=meta,
            functions=_functions_frame(functions),
            lines=pd.DataFrame(
                {
                    name: pd.Series(dtype="object" if name in ("function", "object", "file") else "int64")
                    for name in ("function", "object", "file", "line", EVENT)
                }
            ),
            instructions=_instructions_frame(instructions),
            calls=pd.DataFrame(
                {
                    name: pd.Series(dtype="int64" if name in ("calls", EVENT) else "object")
                    for name in ("caller", "caller_object", "callee", "callee_object", "calls", EVENT)
                }
            ),
            blocks=_blocks_frame(blocks),
            mix=_mix_frame(mixes),
        )

    def _check_totals(self) -> None:
        for tid, total, number in self.function_totals:
            expected = self.global_total if tid < 0 else self.thread_totals.get(tid)
            if expected is not None and expected != total:
                raise ProfileFormatError(f"function TOTAL {total} differs from the *total {expected}", number)


def _merged(threads: dict, whole: dict) -> dict:
    """Threads' sums, with the global sections' figures where SDE wrote them."""
    merged = dict(threads)
    merged.update(whole)
    return merged


def _functions_frame(functions: dict[tuple[str, str], list[int]]) -> pd.DataFrame:
    rows = [
        (name, image, "", pc, icount, icount, calls)
        for (name, image), (icount, calls, pc) in functions.items()
    ]
    frame = pd.DataFrame(
        rows, columns=["function", "object", "file", "address", f"self_{EVENT}", f"incl_{EVENT}", "calls"]
    )
    frame = frame.astype(
        {"address": "int64", f"self_{EVENT}": "int64", f"incl_{EVENT}": "int64", "calls": "int64"}
    )
    return frame.sort_values(f"self_{EVENT}", ascending=False, kind="stable").reset_index(drop=True)


def _blocks_frame(blocks: dict[tuple[str, int], list]) -> pd.DataFrame:
    rows = []
    for (image, pc), (function, icount, executions, listed) in blocks.items():
        length = icount // executions if executions and icount % executions == 0 else listed
        rows.append((function, image, pc, length, executions, icount))
    frame = pd.concat(
        [empty_blocks((EVENT,)), pd.DataFrame(rows, columns=list(empty_blocks((EVENT,)).columns))],
        ignore_index=True,
    )
    frame = frame.astype({name: "int64" for name in ("address", "instructions", "executions", EVENT)})
    return frame.sort_values(EVENT, ascending=False, kind="stable").reset_index(drop=True)


def _instructions_frame(instructions: dict[tuple[str, int], list]) -> pd.DataFrame:
    rows = []
    for (image, address), (function, text, extension, raw, executions) in instructions.items():
        mnemonic, operands = split_instruction(text)
        kind = classify(mnemonic.rsplit(" ", 1)[-1], operands, raw)
        evex = kind.evex or extension.startswith("AVX512")
        rows.append(
            (
                function,
                image,
                address,
                executions,
                mnemonic,
                operands,
                kind.register_class,
                kind.vector_width,
                evex,
                extension,
            )
        )
    columns = [
        "function",
        "object",
        "address",
        EVENT,
        "mnemonic",
        "operands",
        "register_class",
        "vector_width",
        "evex",
        "isa_ext",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.astype({"address": "int64", EVENT: "int64", "vector_width": "int64", "evex": "bool"})
    return frame.sort_values(["object", "address"], kind="stable").reset_index(drop=True)


def _mix_frame(mixes: dict[tuple[str, str], Counter]) -> pd.DataFrame:
    rows = []
    for (function, image), histogram in mixes.items():
        for key_type, key, count in _mix_rows(histogram):
            rows.append((function, image, key_type, key, count, "dynamic"))
    frame = pd.DataFrame(rows, columns=list(MIX_COLUMNS))
    return pd.concat([empty_mix(), frame], ignore_index=True).astype({"count": "int64"})


def _mix_rows(histogram: Counter) -> Iterable[tuple[str, str, int]]:
    """The histogram's lines as (key_type, key, count): iclass for opcode lines, the known groups,
    and the register classes derived from the width groups (scalar: total minus vector)."""
    widths = Counter()
    for name, count in histogram.items():
        if not name.startswith("*"):
            yield "iclass", name, count
            continue
        if name in WIDTH_GROUPS:
            widths[WIDTH_GROUPS[name]] += count
            continue
        memory = MEMORY_GROUP.match(name)
        if memory:
            yield "mem_size", f"{memory.group(1)}-{memory.group(2)}", count
            continue
        for prefix, key_type in PREFIXED_GROUPS:
            if name.startswith(prefix):
                yield key_type, name[len(prefix) :], count
    total = histogram.get("*total", 0)
    vector = sum(widths.values())
    for register_class in ("zmm", "ymm", "xmm"):
        if widths[register_class]:
            yield "register_class", register_class, widths[register_class]
    yield "register_class", "scalar", total - vector
