"""Reader for the Valgrind callgrind/cachegrind text format (Valgrind manual, "Callgrind Format
Specification"; notes in reference/profile-formats.md §1.1).

One pass, line by line: costs are summed into dicts keyed by position, so memory follows the number
of distinct functions/lines/instructions, never the file size; DataFrames are built once at the end.
The cost-line branch is the hot loop and avoids regexes: a split, int() per token, one dict update.

Semantics worth knowing (they follow KCachegrind where the spec is silent):
* name compression ``(id) name`` / ``(id)`` has one table per kind: objects (ob, cob), files (fl, fi,
  fe, cfi, cfl, jfi) and functions (fn, cfn, jfn, frfn);
* ``fi=``/``fe=`` change the file lines are attributed to, not the function; ``fn=`` returns to the
  function's own file (``fl=``);
* the cost line after ``calls=`` is the inclusive cost of those calls and goes to the call edge only;
  ``cob=``/``cfi=`` hold for the next call only (callgrind writes them only when they differ);
* relative positions ``+n``/``-n``/``*`` count from the last cost line's position; targets of
  ``calls=``/``jump=``/``jcnd=`` do not move it;
* ``totals:`` must equal the sum of self costs of its part; ``summary:`` must equal it too when there
  is no ``totals:`` (cachegrind), and may only exceed it otherwise (callgrind counts a couple of
  instructions outside any function).
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Iterable, Iterator
from operator import add
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.profiles.model import Profile, ProfileMeta

COST_START = frozenset("0123456789+-*")
HEADER_KEYS = frozenset(
    ("version", "creator", "pid", "cmd", "part", "thread", "desc", "positions", "events", "event")
)
FILE_KINDS = frozenset(("fl", "fi", "fe", "cfi", "cfl", "jfi"))
FN_KINDS = frozenset(("fn", "cfn", "jfn", "frfn"))
OB_KINDS = frozenset(("ob", "cob"))
IGNORED_SPECS = frozenset(("rec", "ln", "jump", "jcnd"))
TOTAL_KEYS = frozenset(("totals", "summary"))
NO_LINE = -1
BATCH_LINES = 65536
MAX_POSITION = 2**63 - 1


class ProfileFormatError(ValueError):
    """The input is not a well-formed profile; ``line_number`` is 1-based (0: before any line)."""

    def __init__(self, message: str, line_number: int) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.message = message
        self.line_number = line_number


def parse_callgrind(source: str | Path | Iterable[str]) -> Profile:
    """Parse a callgrind or cachegrind file (a path, or an iterable of text lines)."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8", errors="surrogateescape", newline=None) as handle:
            return _Reader().read(handle)
    return _Reader().read(source)


def parse_callgrind_text(text: str) -> Profile:
    return _Reader().read(io.StringIO(text))


class _Reader:
    """Parser state: the current position context and the accumulated costs."""

    def __init__(self) -> None:
        self.header: dict[str, str] = {}
        self.descriptions: list[str] = []
        self.events: list[str] | None = None
        self.positions = ["line"]
        self.names: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}
        self.function_ids: dict[tuple[str, str], int] = {}
        self.function_rows: list[tuple[str, str, str]] = []  # (name, object, file) by id
        self.file_ids: dict[str, int] = {}
        self.file_names: list[str] = []
        # (function id, file id, address, line) -> row of self.sums; (caller, callee) -> [calls, costs…]
        self.key_index: dict[tuple[int, int, int, int], int] = {}
        self.sums = np.zeros((0, 1), dtype=np.int64)
        self.batch_index = array("q")  # cost lines waiting for conversion: their key's row,
        self.batch_lines: list[str] = []  # their text
        self.batch_numbers = array("q")  # and their line numbers, for errors
        self.call_costs: dict[tuple[int, int], list[int]] = {}
        self.parts = 0
        self.part_start = self.last_cost = self.last_total = 0  # line numbers
        self.part_totals: tuple[list[int], int] | None = None  # (values, line number)
        self.part_summary: tuple[list[int], int] | None = None
        self.summaries: list[list[int]] = []
        self.checked_sum: np.ndarray | None = None

    # -- driver -------------------------------------------------------------------------------

    def read(self, lines: Iterable[str]) -> Profile:
        reached = [0]
        try:
            try:
                self._body(iter(lines), reached)
            except Exception:  # a bad cost still waiting in the batch came before what stopped the loop
                self._find_bad_cost(len(self.positions))
                raise
        except ProfileFormatError:
            raise
        except UnicodeDecodeError as error:
            raise ProfileFormatError(f"not text ({error.reason})", reached[0] + 1) from None
        except (ValueError, IndexError, KeyError, TypeError, OverflowError) as error:
            raise ProfileFormatError(f"malformed line ({error})", reached[0]) from None
        try:
            return self._finish(reached[0])
        except OverflowError:
            raise ProfileFormatError("a cost does not fit in 64 bits", reached[0]) from None

    def _body(self, lines: Iterator[str], reached: list[int]) -> None:  # noqa: C901, PLR0912, PLR0915
        """The hot loop, in one frame so its state stays in fast locals; ``reached[0]`` tells the
        caller which line it was on when something raised."""
        key_index = self.key_index
        batch_index, batch_lines, batch_numbers = self.batch_index, self.batch_lines, self.batch_numbers
        calls = self.call_costs
        function_id = self._function_id
        name_of = self._name
        ob = fl = ""
        file_id = self._file_id
        source = fl_id = file_id("")
        fid = callee = -1
        cob: str | None = None
        cfile: str | None = None
        pending_calls = -1
        last_a = last_l = 0
        npos = nev = 0
        has_addr = has_line = False
        zeros: list[int] = []
        pad: list[str] = []
        number = last_cost = 0
        try:
            for number, line in enumerate(lines, 1):
                if not line:
                    continue
                if line[0] in COST_START:
                    if nev == 0:
                        raise ProfileFormatError("cost line before the events: header", number)
                    parts = line.split()
                    token = parts[0]
                    c = token[0]
                    if has_addr:
                        if c == "*":
                            a = last_a
                        elif c == "+" or c == "-":
                            a = last_a + int(token)
                        else:
                            a = int(token, 0) if c == "0" else int(token)
                        if has_line:
                            token = parts[1]
                            c = token[0]
                        else:
                            c = ""
                    else:
                        a = NO_LINE
                    if c == "":
                        ln = NO_LINE
                    elif c == "*":
                        ln = last_l
                    elif c == "+" or c == "-":
                        ln = last_l + int(token)
                    else:
                        ln = int(token, 0) if c == "0" else int(token)
                    if not (NO_LINE <= a <= MAX_POSITION and NO_LINE <= ln <= MAX_POSITION):
                        raise ProfileFormatError(f"position out of range: {line.strip()!r}", number)
                    last_a = a
                    last_l = ln
                    if len(parts) == npos:  # a jump source: a position without costs
                        if pending_calls >= 0:
                            raise ProfileFormatError("calls= must be followed by its cost", number)
                        continue
                    ncosts = len(parts) - npos
                    if ncosts > nev:
                        raise ProfileFormatError(
                            f"{ncosts} costs for {nev} events in {line.strip()!r}", number
                        )
                    last_cost = number
                    if pending_calls >= 0:
                        values = list(map(int, parts[npos:]))
                        values += zeros[len(values) :]
                        values.insert(0, pending_calls)
                        key2 = (fid, callee)
                        acc = calls.get(key2)
                        calls[key2] = values if acc is None else list(map(add, acc, values))
                        pending_calls = -1
                        cob = cfile = None
                        continue
                    if fid < 0:
                        raise ProfileFormatError("cost line before any fn=", number)
                    # Self costs are converted in batches by pandas' C reader: int() per token
                    # is what limits a pure-Python reader. Pad omitted trailing zeros for it.
                    if ncosts != nev or line[-1] != "\n":
                        line = line.rstrip("\n") + pad[nev - ncosts]
                    key = (fid, source, a, ln)
                    index = key_index.get(key)
                    if index is None:
                        index = key_index[key] = len(key_index)
                    batch_index.append(index)
                    batch_lines.append(line)
                    batch_numbers.append(number)
                    if len(batch_lines) >= BATCH_LINES:
                        self._flush()
                    continue
                if line[0] == "#" or line.isspace():
                    continue
                if pending_calls >= 0:
                    raise ProfileFormatError("calls= must be followed by its cost line", number)
                eq = line.find("=")
                colon = line.find(":")
                if eq > 0 and (colon < 0 or eq < colon):
                    kind = line[:eq]
                    value = line[eq + 1 :].strip()
                    if kind == "fn":
                        source = fl_id
                        fid = function_id(ob, name_of("fn", value, number), fl)
                    elif kind == "fl":
                        fl = name_of("fl", value, number)
                        source = fl_id = file_id(fl)
                    elif kind == "fi" or kind == "fe":
                        if fid < 0:
                            raise ProfileFormatError(f"{kind}= before any fn=", number)
                        source = file_id(name_of("fl", value, number))
                    elif kind == "ob":
                        ob = name_of("ob", value, number)
                    elif kind == "cfn":
                        name = name_of("fn", value, number)
                        file = cfile or self.file_names[source]
                        callee = function_id(ob if cob is None else cob, name, file)
                    elif kind == "calls":
                        if callee < 0 or fid < 0:
                            raise ProfileFormatError("calls= without cfn= and fn=", number)
                        count = value.split(None, 1)[0]
                        pending_calls = int(count)
                        if pending_calls < 0:
                            raise ProfileFormatError(f"negative call count {count}", number)
                    elif kind == "cob":
                        cob = name_of("ob", value, number)
                    elif kind == "cfi" or kind == "cfl":
                        cfile = name_of("fl", value, number)
                    elif kind in FILE_KINDS:
                        name_of("fl", value, number)
                    elif kind in FN_KINDS:
                        name_of("fn", value, number)
                    elif kind not in IGNORED_SPECS:
                        raise ProfileFormatError(f"unknown specification {kind}=", number)
                    continue
                if colon > 0:
                    key_name = line[:colon]
                    value = line[colon + 1 :].strip()
                    if key_name in HEADER_KEYS or key_name in TOTAL_KEYS:
                        self.last_cost = last_cost
                        self._header_line(key_name, value, number)
                        nev = len(self.events or ())
                        zeros = [0] * nev
                        pad = [" 0" * k + "\n" for k in range(nev + 1)]
                        has_addr = "instr" in self.positions
                        has_line = "line" in self.positions
                        npos = len(self.positions)
                        continue
                raise ProfileFormatError(f"not a callgrind/cachegrind line: {line.strip()[:60]!r}", number)
            if pending_calls >= 0:
                raise ProfileFormatError("the file ends after calls= (truncated?)", number)
        finally:
            reached[0] = number
            self.last_cost = last_cost

    # -- header, names, totals ------------------------------------------------------------------

    def _header_line(self, key: str, value: str, number: int) -> None:
        if key in TOTAL_KEYS:
            self._total_line(key, value, number)
        elif key == "part" or (key in ("events", "thread") and self._part_has_body()):
            self._close_part(number)
        if key == "desc":
            self.descriptions.append(value)
        elif key == "events":
            self._events_line(value, number)
        elif key == "positions":
            positions = value.split()
            if not positions or not set(positions) <= {"instr", "line"}:
                raise ProfileFormatError(f"positions: {value!r} is not instr, line or both", number)
            self.positions = ["instr", "line"] if len(set(positions)) == 2 else positions[:1]
        elif key not in TOTAL_KEYS:
            self.header.setdefault(key, value)

    def _events_line(self, value: str, number: int) -> None:
        events = value.split()
        if not events:
            raise ProfileFormatError("events: names no event", number)
        if self.events is not None and events != self.events:
            raise ProfileFormatError(
                f"events: {' '.join(events)} differs from the first part's {' '.join(self.events)}",
                number,
            )
        self.events = events

    def _total_line(self, key: str, value: str, number: int) -> None:
        if not self.events:
            raise ProfileFormatError(f"{key}: before the events: header", number)
        values = [int(x) for x in value.split()]
        if len(values) > len(self.events):
            raise ProfileFormatError(f"{key}: has more values than events", number)
        values += [0] * (len(self.events) - len(values))
        if key == "totals":
            self.part_totals = (values, number)
        else:
            self.part_summary = (values, number)
        self.last_total = number

    def _name(self, kind: str, value: str, number: int) -> str:
        """Resolve name compression: ``(id) name`` defines, ``(id)`` refers; tables are per kind."""
        if not value.startswith("(") or not value[1:2].isdigit():
            return value  # "(below main)" is a plain name
        close = value.find(")")
        if close < 2:
            raise ProfileFormatError(f"malformed compressed name {value!r}", number)
        ident = value[1:close]
        if not ident.isdigit():
            raise ProfileFormatError(f"malformed compressed name {value!r}", number)
        table = self.names[kind]
        name = value[close + 1 :].strip()
        if name:
            table[ident] = name
            return name
        try:
            return table[ident]
        except KeyError:
            raise ProfileFormatError(f"{kind} id ({ident}) used before it was defined", number) from None

    def _file_id(self, name: str) -> int:
        """Files are small ints in the cost keys: cheaper to hash, group and keep than paths."""
        ident = self.file_ids.get(name)
        if ident is None:
            ident = self.file_ids[name] = len(self.file_names)
            self.file_names.append(name)
        return ident

    def _function_id(self, obj: str, name: str, file: str) -> int:
        key = (obj, name)
        fid = self.function_ids.get(key)
        if fid is None:
            fid = self.function_ids[key] = len(self.function_rows)
            self.function_rows.append((name, obj, file))
        return fid

    # -- parts and checks -----------------------------------------------------------------------

    def _part_has_body(self) -> bool:
        return self.last_cost > self.part_start

    def _close_part(self, number: int) -> None:
        """Check the part that ends here against its own totals: and summary: lines."""
        if not self._part_has_body():
            return
        if self.last_total < self.last_cost:
            raise ProfileFormatError(
                f"the costs end at line {self.last_cost} with no totals: or summary: after them (truncated?)",
                number,
            )
        self.parts += 1
        self._check_part()
        if self.part_summary is not None:
            self.summaries.append(self.part_summary[0])
        self.part_totals = self.part_summary = None
        self.part_start = number

    def _check_part(self) -> None:
        assert self.events is not None
        total = self._sum_costs()
        computed = total - self.checked_sum if self.checked_sum is not None else total
        self.checked_sum = total
        for i, event in enumerate(self.events):
            got = int(computed[i])
            if self.part_totals is not None:
                totals, line = self.part_totals
                if totals[i] != got:
                    raise ProfileFormatError(
                        f"totals: {event} is {totals[i]} but the cost lines sum to {got}", line
                    )
            if self.part_summary is not None:
                summary, line = self.part_summary
                low = summary[i] < got if self.part_totals is not None else summary[i] != got
                if low:
                    raise ProfileFormatError(
                        f"summary: {event} is {summary[i]} but the cost lines sum to {got}", line
                    )

    def _flush(self) -> None:
        """Convert the waiting cost lines at C speed and add them to their keys' rows."""
        if not self.batch_lines:
            return
        assert self.events is not None
        npos, nev = len(self.positions), len(self.events)
        values = self._convert(npos, nev)
        rows = np.frombuffer(self.batch_index, dtype=np.int64).copy()  # the view would pin it
        if self.sums.shape[1] != nev:
            self.sums = np.zeros((0, nev), dtype=np.int64)
        if len(self.sums) < len(self.key_index):
            grown = np.zeros((max(len(self.key_index), 2 * len(self.sums)), nev), dtype=np.int64)
            grown[: len(self.sums)] = self.sums
            self.sums = grown
        summed = pd.DataFrame(values).groupby(rows).sum()
        self.sums[summed.index.to_numpy()] += summed.to_numpy(dtype=np.int64)
        del self.batch_index[:], self.batch_lines[:], self.batch_numbers[:]

    def _convert(self, npos: int, nev: int) -> np.ndarray:
        columns = list(range(npos + nev))
        try:
            frame = pd.read_csv(
                io.StringIO("".join(self.batch_lines)),
                sep=r"\s+",
                header=None,
                names=columns,
                usecols=columns[npos:],
                dtype={column: np.int64 for column in columns[npos:]},
                quoting=csv.QUOTE_NONE,
                engine="c",
            )
        except (ValueError, OverflowError, pd.errors.ParserError):
            self._find_bad_cost(npos)
            raise ProfileFormatError("malformed costs", self.batch_numbers[0]) from None
        if len(frame) != len(self.batch_lines):
            self._find_bad_cost(npos)
            raise ProfileFormatError("malformed costs", self.batch_numbers[0])
        return frame.to_numpy(dtype=np.int64)

    def _find_bad_cost(self, npos: int) -> None:
        """The C reader says only that a batch is bad; find the line the way a person would."""
        for line, number in zip(self.batch_lines, self.batch_numbers, strict=True):
            for token in line.split()[npos:]:
                if not token.isdigit() or int(token) > MAX_POSITION:
                    raise ProfileFormatError(f"malformed cost {token[:30]!r}", number)

    def _sum_costs(self) -> np.ndarray:
        assert self.events is not None
        self._flush()
        if not self.key_index:
            return np.zeros(len(self.events), dtype=np.int64)
        return self.sums[: len(self.key_index)].sum(axis=0)

    def _finish(self, number: int) -> Profile:
        if self.events is None:
            raise ProfileFormatError("no events: header: not a callgrind/cachegrind file", number)
        if not self.key_index:
            raise ProfileFormatError("no cost lines (truncated?)", number)
        self._close_part(number)
        return self._profile()

    # -- DataFrames -----------------------------------------------------------------------------

    def _profile(self) -> Profile:
        assert self.events is not None
        events = list(self.events)
        names = pd.DataFrame(self.function_rows, columns=["function", "object", "file"])
        totals = self._sum_costs()
        rows = pd.DataFrame(list(self.key_index), columns=["fid", "file", "address", "line"])
        rows[events] = self.sums[: len(rows)]
        calls = pd.DataFrame(
            [(*key, *values) for key, values in self.call_costs.items()],
            columns=["caller_id", "callee_id", "calls", *events],
        ).astype({"calls": "int64", **{event: "int64" for event in events}})
        functions = self._functions(names, rows, calls, events)
        meta = ProfileMeta(
            tool="callgrind" if self._is_callgrind() else "cachegrind",
            command=self.header.get("cmd", ""),
            events=tuple(events),
            totals={event: int(totals[i]) for i, event in enumerate(events)},
            summary=self._summary(events),
            creator=self.header.get("creator", ""),
            positions=tuple(self.positions),
            parts=self.parts,
            descriptions=tuple(self.descriptions),
        )
        return Profile(
            meta=meta,
            functions=functions,
            lines=_lines(names, rows, events, self.file_names),
            instructions=_instructions(names, rows, events),
            calls=_calls(names, calls, events),
        )

    def _summary(self, events: list[str]) -> dict[str, int] | None:
        if not self.summaries:
            return None
        total = np.array(self.summaries, dtype=np.int64).sum(axis=0)
        return {event: int(total[i]) for i, event in enumerate(events)}

    def _is_callgrind(self) -> bool:
        creator = self.header.get("creator", "")
        return "callgrind" in creator or bool(self.call_costs) or "instr" in self.positions

    @staticmethod
    def _functions(
        names: pd.DataFrame, rows: pd.DataFrame, calls: pd.DataFrame, events: list[str]
    ) -> pd.DataFrame:
        index = pd.RangeIndex(len(names))
        own = rows.groupby("fid")[events].sum().reindex(index, fill_value=0)
        outgoing = calls[calls.caller_id != calls.callee_id]
        called = outgoing.groupby("caller_id")[events].sum().reindex(index, fill_value=0)
        frame = names.copy()
        for event in events:
            frame[f"self_{event}"] = own[event].astype("int64")
        for event in events:
            frame[f"incl_{event}"] = (own[event] + called[event]).astype("int64")
        return frame


def _lines(names: pd.DataFrame, rows: pd.DataFrame, events: list[str], files: list[str]) -> pd.DataFrame:
    with_line = rows[rows.line != NO_LINE]
    grouped = with_line.groupby(["fid", "file", "line"], as_index=False)[events].sum()
    grouped["file"] = np.array(files, dtype=object)[grouped["file"].to_numpy()]
    return _named(names, grouped, "fid")[["function", "object", "file", "line", *events]]


def _instructions(names: pd.DataFrame, rows: pd.DataFrame, events: list[str]) -> pd.DataFrame:
    with_address = rows[rows.address != NO_LINE]
    grouped = with_address.groupby(["fid", "address"], as_index=False)[events].sum()
    frame = _named(names, grouped, "fid")[["function", "object", "address", *events]]
    frame = frame.assign(mnemonic=pd.Series(dtype="string"), operands=pd.Series(dtype="string"))
    return frame.assign(vector_width=pd.Series(dtype="Int64"))


def _calls(names: pd.DataFrame, calls: pd.DataFrame, events: list[str]) -> pd.DataFrame:
    caller = names[["function", "object"]].rename(columns={"function": "caller", "object": "caller_object"})
    callee = names[["function", "object"]].rename(columns={"function": "callee", "object": "callee_object"})
    frame = calls.join(caller, on="caller_id").join(callee, on="callee_id")
    return frame[["caller", "caller_object", "callee", "callee_object", "calls", *events]].reset_index(
        drop=True
    )


def _named(names: pd.DataFrame, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    file_column = {"file": "function_file"}
    joined = frame.join(names.rename(columns=file_column), on=column)
    return joined.reset_index(drop=True)
