"""The parser state around the kernel: the lines it hands back (headers, totals, name compression,
anything malformed) are read here, where the format's rules live.

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

import re
from collections.abc import Iterable

import numpy as np

from analysis.profiles.callgrind import chunks
from analysis.profiles.callgrind.hashtables import FIRST_ROWS, Table, rows_for
from analysis.profiles.callgrind.tables import Tables
from analysis.profiles.model import Profile, ProfileFormatError

HEADER_KEYS = frozenset(
    ("version", "creator", "pid", "cmd", "part", "thread", "desc", "positions", "events", "event")
)
TABLE_OF_KIND = {
    **dict.fromkeys(("ob", "cob"), 0),
    **dict.fromkeys(("fl", "fi", "fe", "cfi", "cfl", "jfi"), 1),
    **dict.fromkeys(("fn", "cfn", "jfn", "frfn"), 2),
}
TABLE_NAMES = ("ob", "fl", "fn")
IGNORED_SPECS = frozenset(("rec", "ln", "jump", "jcnd"))
TOTAL_KEYS = frozenset(("totals", "summary"))
FIRST_IDS = 1 << 12
IDENT = re.compile(r"=\s*\((\d+)\)")


class Reader:
    """Parser state shared with the kernel (``st``), the tables, and what only Python reads."""

    def __init__(self, instructions: bool, size: int = 0) -> None:
        from analysis.profiles.callgrind import kernel  # numba loads only when parsing

        self.k = kernel
        self.header: dict[str, str] = {}
        self.descriptions: list[str] = []
        self.events: list[str] | None = None
        self.positions = ["line"]
        self.instructions = instructions
        st = self.st = np.zeros(kernel.STATE_SIZE, dtype=np.int64)
        for slot in (kernel.FIDX, kernel.COB, kernel.CFILE, kernel.CALLEE, kernel.PENDING):
            st[slot] = -1
        st[kernel.NPOS] = st[kernel.HAS_LINE] = 1
        st[kernel.WANT_INST] = int(instructions)
        self.maps = np.full((3, FIRST_IDS), -1, dtype=np.int64)  # compressed id -> handle
        # A cost line takes 5 bytes at the least and rarely under 16: few tables ever grow.
        rows, functions = rows_for(size // 16), rows_for(size // 256)
        self.fn = Table(kernel, 2, functions)  # (object, function) -> row; extra: the function's file
        self.lt = Table(kernel, 3, rows)  # (function row, file, line)
        self.it = Table(kernel, 2, rows if instructions else FIRST_ROWS)  # (function row, address)
        self.ct = Table(kernel, 2, functions)  # (caller row, callee row); extra: call count
        self.defs = np.zeros((FIRST_ROWS, 2), dtype=np.int64)  # (table, handle) of new names
        self.blob = np.zeros(chunks.CHUNK_BYTES, dtype=np.uint8)  # their text, one a line
        self.sums = np.zeros(0, dtype=np.int64)
        self.costs = np.zeros(0, dtype=np.int64)
        # handle -> name, per table; uncompressed name -> handle; compressed ids too big for maps
        self.names: list[dict[int, str]] = [{0: ""}, {0: ""}, {0: ""}]
        self.plain: list[dict[str, int]] = [{"": 0}, {"": 0}, {"": 0}]
        self.big: list[dict[int, int]] = [{}, {}, {}]
        self.next_handle = kernel.ALT_HANDLE
        self.parts = 0
        self.part_start = self.last_total = 0  # line numbers
        self.part_totals: tuple[list[int], int] | None = None  # (values, line number)
        self.part_summary: tuple[list[int], int] | None = None
        self.summaries: list[list[int]] = []
        self.checked_sum: np.ndarray | None = None

    @property
    def last_cost(self) -> int:
        return int(self.st[self.k.LAST_COST])

    # -- driver -------------------------------------------------------------------------------

    def read(self, chunks: Iterable[bytes]) -> Profile:
        for chunk in chunks:
            self._scan(np.frombuffer(chunk, dtype=np.uint8))
        number = int(self.st[self.k.LINENO])
        if self.st[self.k.PENDING] >= 0:
            raise ProfileFormatError("the file ends after calls= (truncated?)", number)
        return self._finish(number)

    def _scan(self, buf: np.ndarray) -> None:
        k, st = self.k, self.st
        st[k.POS] = 0
        if len(self.blob) - st[k.N_BLOB] < len(buf):  # room for every name the chunk may define
            self._drain_names()
        while True:
            code = k.scan(buf, len(buf), st, self.maps, *self._tables(), self.sums, self.costs)
            if code == k.DONE:
                return
            if code == k.GROW:
                self._grow()
                continue
            number = int(st[k.LINENO]) + 1
            line = bytes(buf[st[k.POS] : st[k.LINE_END]]).decode("utf-8", "surrogateescape")
            if code == k.FAILED:
                raise self._error(int(st[k.ERROR]), line, number, buf)
            try:
                self._python_line(line, number)
            except (ValueError, IndexError, KeyError, TypeError, OverflowError) as error:
                if isinstance(error, ProfileFormatError):
                    raise
                raise ProfileFormatError(f"malformed line ({error})", number) from None
            st[k.POS] = st[k.LINE_END] + 1
            st[k.LINENO] = number

    def _tables(self) -> tuple:
        fn, lt, it, ct = self.fn, self.lt, self.it, self.ct
        return (
            *(fn.keys, fn.extra, fn.vals, fn.slots),
            *(lt.keys, lt.vals, lt.slots),
            *(it.keys, it.vals, it.slots),
            *(ct.keys, ct.extra, ct.vals, ct.slots),
            self.defs,
            self.blob,
        )

    def _grow(self) -> None:
        k, st = self.k, self.st
        for table, count in ((self.fn, k.N_FN), (self.lt, k.N_LT), (self.it, k.N_IT), (self.ct, k.N_CT)):
            if table.full(int(st[count])):
                table.grow(int(st[count]))
        if st[k.N_DEF] + 1 > len(self.defs):
            self._drain_names()

    def _drain_names(self) -> None:
        """Decode the names the kernel copied out of compressed definitions, all at once."""
        k, st = self.k, self.st
        count = int(st[k.N_DEF])
        if count:
            text = self.blob[: st[k.N_BLOB]].tobytes().decode("utf-8", "surrogateescape")
            names = text.split("\n")
            for (table, handle), name in zip(self.defs[:count].tolist(), names, strict=False):
                self.names[table][handle] = name
        st[k.N_DEF] = st[k.N_BLOB] = 0

    # -- the lines the kernel hands over ------------------------------------------------------

    def _python_line(self, line: str, number: int) -> None:
        k, st = self.k, self.st
        if not line or line[0] == "#" or line.isspace():
            return
        if st[k.PENDING] >= 0:
            raise ProfileFormatError("calls= must be followed by its cost line", number)
        eq = line.find("=")
        colon = line.find(":")
        if eq > 0 and (colon < 0 or eq < colon):
            self._spec_line(line[:eq], line[eq + 1 :].strip(), number)
            return
        if colon > 0:
            key = line[:colon]
            if key in HEADER_KEYS or key in TOTAL_KEYS:
                self._header_line(key, line[colon + 1 :].strip(), number)
                self._sync_header()
                return
        raise ProfileFormatError(f"not a callgrind/cachegrind line: {line.strip()[:60]!r}", number)

    def _spec_line(self, kind: str, value: str, number: int) -> None:
        k, st = self.k, self.st
        table = TABLE_OF_KIND.get(kind)
        if table is not None:
            handle = self._handle(table, value, number)
            if kind in ("fi", "fe") and st[k.FIDX] < 0:
                raise ProfileFormatError(f"{kind}= before any fn=", number)
            st[k.APPLY_KIND] = k.kind_code(kind.encode())
            st[k.APPLY_HANDLE] = handle
        elif kind == "calls":
            if st[k.CALLEE] < 0 or st[k.FIDX] < 0:
                raise ProfileFormatError("calls= without cfn= and fn=", number)
            count = value.split(None, 1)[0]
            if int(count) < 0:
                raise ProfileFormatError(f"negative call count {count}", number)
            st[k.PENDING] = int(count)
        elif kind not in IGNORED_SPECS:
            raise ProfileFormatError(f"unknown specification {kind}=", number)

    def _handle(self, table: int, value: str, number: int) -> int:
        """Resolve name compression: ``(id) name`` defines, ``(id)`` refers; tables are per kind."""
        if not value.startswith("(") or not value[1:2].isdigit():  # "(below main)" is a plain name
            handle = self.plain[table].get(value)
            if handle is None:
                handle = self.plain[table][value] = self._new_handle(table, value)
            return handle
        close = value.find(")")
        if close < 2 or not value[1:close].isdigit():
            raise ProfileFormatError(f"malformed compressed name {value!r}", number)
        ident = int(value[1:close])
        name = value[close + 1 :].strip()
        handle = self._mapped(table, ident)
        if not name:
            if handle < 0:
                kind = TABLE_NAMES[table]
                raise ProfileFormatError(f"{kind} id ({ident}) used before it was defined", number)
            return handle
        if handle >= 0:
            self._drain_names()
            if self.names[table][handle] == name:
                return handle
        if handle < 0 and ident < self.k.MAP_LIMIT:
            handle = ident + 1
            self.names[table][handle] = name
        else:
            handle = self._new_handle(table, name)
        if ident < self.k.MAP_LIMIT:
            self._map_room(ident)
            self.maps[table, ident] = handle
        else:
            self.big[table][ident] = handle
        return handle

    def _mapped(self, table: int, ident: int) -> int:
        if ident < self.maps.shape[1]:
            return int(self.maps[table, ident])
        return self.big[table].get(ident, -1)

    def _map_room(self, ident: int) -> None:
        if ident >= self.maps.shape[1]:
            size = 1 << ident.bit_length()
            maps = np.full((3, size), -1, dtype=np.int64)
            maps[:, : self.maps.shape[1]] = self.maps
            self.maps = maps

    def _new_handle(self, table: int, name: str) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.names[table][handle] = name
        return handle

    def _sync_header(self) -> None:
        k, st = self.k, self.st
        nev = len(self.events or ())
        if nev and st[k.NEV] == 0:
            for table in (self.fn, self.lt, self.it, self.ct):
                table.with_events(nev)
            self.sums = np.zeros(nev, dtype=np.int64)
            self.costs = np.zeros(nev, dtype=np.int64)
        st[k.NEV] = nev
        st[k.NPOS] = len(self.positions)
        st[k.HAS_ADDR] = int("instr" in self.positions)
        st[k.HAS_LINE] = int("line" in self.positions)

    def _error(self, code: int, line: str, number: int, buf: np.ndarray) -> ProfileFormatError:
        k, st = self.k, self.st
        text = line.strip()
        if code == k.E_BAD_COST:
            token = bytes(buf[st[k.ERR_FROM] : st[k.ERR_TO]]).decode("utf-8", "surrogateescape")
            return ProfileFormatError(f"malformed cost {token.split()[0][:30]!r}", number)
        if code == k.E_TOO_MANY_COSTS:
            nev = len(self.events or ())
            return ProfileFormatError(f"{st[k.ERR_COUNT]} costs for {nev} events in {text!r}", number)
        if code == k.E_FILE_BEFORE_FN:
            return ProfileFormatError(f"{line[: line.find('=')]}= before any fn=", number)
        if code == k.E_UNDEFINED_ID:
            kind = TABLE_NAMES[TABLE_OF_KIND[line[: line.find("=")]]]
            ident = IDENT.search(line)
            return ProfileFormatError(
                f"{kind} id ({ident.group(1) if ident else '?'}) used before it was defined", number
            )
        messages = {
            k.E_NO_EVENTS: "cost line before the events: header",
            k.E_BAD_POSITION: f"malformed position in {text!r}",
            k.E_POSITION_RANGE: f"position out of range: {text!r}",
            k.E_FEW_POSITIONS: f"fewer subpositions than positions: {' '.join(self.positions)} in {text!r}",
            k.E_CALLS_WITHOUT_COST: "calls= must be followed by its cost",
            k.E_COST_BEFORE_FN: "cost line before any fn=",
            k.E_CALLS_WITHOUT_FN: "calls= without cfn= and fn=",
        }
        return ProfileFormatError(messages.get(code, f"malformed line (code {code})"), number)

    # -- header, totals and parts -------------------------------------------------------------

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
        total = self.sums.copy()
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

    def _finish(self, number: int) -> Profile:
        if self.events is None:
            raise ProfileFormatError("no events: header: not a callgrind/cachegrind file", number)
        if self.st[self.k.N_LT] == 0:
            raise ProfileFormatError("no cost lines (truncated?)", number)
        self._close_part(number)
        self._drain_names()
        return Tables(self).profile()
