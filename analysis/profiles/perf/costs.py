"""What both perf readers share: the costs they accumulate (turned into the model's ``Profile``), how
a perf event is described."""

from __future__ import annotations

import re
from collections import defaultdict

import pandas as pd

from analysis.profiles.model import KNOWN_EVENTS, Event, Profile, ProfileMeta

CMDLINE = re.compile(r"^#\s*cmdline\s*:\s*(?P<cmd>.*?)\s*$")


def describe_perf_event(name: str, kind: str = "sampled") -> Event:
    """perf writes modifiers after the name (``cycles:u``, ``cpu-clock:pppH``): look up the base."""
    known = KNOWN_EVENTS.get(name) or KNOWN_EVENTS.get(name.split(":", 1)[0])
    if known is None or known.kind not in ("sampled", "estimated"):
        return Event(name, "", kind)
    return Event(name, known.canonical, kind, known.unit, known.label)


class Costs:
    """Costs keyed by small function ids and a measure: (event, 0) a period sum, (event, 1) a count."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], int] = {}
        self.names: list[tuple[str, str]] = []
        self.events: dict[str, Event] = {}
        self.self_cost: defaultdict[tuple[int, tuple[str, int]], int] = defaultdict(int)
        self.incl_cost: defaultdict[tuple[int, tuple[str, int]], int] = defaultdict(int)
        self.edges: defaultdict[tuple[int, int, tuple[str, int]], int] = defaultdict(int)
        self.lines: defaultdict[tuple[int, str, int, tuple[str, int]], int] = defaultdict(int)
        self.addresses: defaultdict[tuple[int, int, tuple[str, int]], int] = defaultdict(int)
        self.counted: set[str] = set()  # events with a samples count

    def fid(self, function: str, obj: str) -> int:
        key = (function, obj)
        ident = self.ids.get(key)
        if ident is None:
            ident = self.ids[key] = len(self.names)
            self.names.append(key)
        return ident

    def columns(self) -> tuple[list[str], dict[tuple[str, int], str], dict[str, Event]]:
        several = len(self.events) > 1
        names: dict[tuple[str, int], str] = {}
        info: dict[str, Event] = {}
        for event, described in self.events.items():
            names[(event, 0)] = event
            info[event] = described
            if event in self.counted:
                column = f"samples:{event}" if several else "samples"
                names[(event, 1)] = column
                info[column] = Event(column, "samples", "sampled", "samples", f"Samples of {event}")
        return list(names.values()), names, info

    def profile(self, meta: dict, notes: list[str]) -> Profile:
        columns, names, info = self.columns()
        functions = self._functions(columns, names)
        totals = {column: int(functions[f"self_{column}"].sum()) for column in columns}
        meta = ProfileMeta(events=tuple(columns), totals=totals, event_info=info, notes=tuple(notes), **meta)
        return Profile(
            meta=meta,
            functions=functions,
            lines=self._keyed(self.lines, ["fid", "file", "line"], columns, names),
            instructions=self._instructions(columns, names),
            calls=self._calls(columns, names),
        )

    def _wide(self, costs: dict, keys: list[str], columns: list[str], names: dict) -> pd.DataFrame:
        """{(key…, measure): value} → one row per key, one int64 column per measure."""
        rows: dict[tuple, dict[str, int]] = defaultdict(dict)
        for (*key, measure), value in costs.items():
            rows[tuple(key)][names[measure]] = value
        frame = pd.DataFrame(
            [(*key, *(values.get(c, 0) for c in columns)) for key, values in rows.items()],
            columns=[*keys, *columns],
        )
        return frame.astype(dict.fromkeys(columns, "int64"))

    def _named(self, frame: pd.DataFrame, column: str, prefix: str = "") -> pd.DataFrame:
        functions = [self.names[i][0] for i in frame[column]]
        objects = [self.names[i][1] for i in frame[column]]
        fn, ob = (f"{prefix}", f"{prefix}_object") if prefix else ("function", "object")
        return frame.assign(**{fn: pd.Series(functions, dtype=object), ob: pd.Series(objects, dtype=object)})

    def _functions(self, columns: list[str], names: dict) -> pd.DataFrame:
        own = self._wide(self.self_cost, ["fid"], columns, names).set_index("fid")
        incl = self._wide(self.incl_cost, ["fid"], columns, names).set_index("fid")
        index = pd.RangeIndex(len(self.names))
        own, incl = own.reindex(index, fill_value=0), incl.reindex(index, fill_value=0)
        frame = self._named(pd.DataFrame({"fid": index}), "fid").assign(file="")
        for column in columns:
            frame[f"self_{column}"] = own[column].astype("int64").to_numpy()
        for column in columns:
            frame[f"incl_{column}"] = incl[column].astype("int64").to_numpy()
        return frame.drop(columns="fid")

    def _keyed(self, costs: dict, keys: list[str], columns: list[str], names: dict) -> pd.DataFrame:
        frame = self._named(self._wide(costs, keys, columns, names), "fid")
        frame = frame.astype({key: "int64" for key in keys if key in ("line", "address")})
        return frame[["function", "object", *keys[1:], *columns]]

    def _instructions(self, columns: list[str], names: dict) -> pd.DataFrame:
        frame = self._keyed(self.addresses, ["fid", "address"], columns, names)
        frame = frame.assign(mnemonic=pd.Series(dtype="string"), operands=pd.Series(dtype="string"))
        return frame.assign(vector_width=pd.Series(dtype="Int64"))

    def _calls(self, columns: list[str], names: dict) -> pd.DataFrame:
        frame = self._wide(self.edges, ["caller_id", "callee_id"], columns, names)
        counts = [names[(event, 1)] for event in self.events if event in self.counted]
        frame["calls"] = frame[counts].sum(axis=1).astype("int64") if counts else 0
        frame = self._named(self._named(frame, "caller_id", "caller"), "callee_id", "callee")
        return frame[["caller", "caller_object", "callee", "callee_object", "calls", *columns]].astype(
            {"calls": "int64"}
        )
