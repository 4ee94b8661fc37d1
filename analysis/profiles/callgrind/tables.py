"""The kernel's tables as the model's DataFrames (``Profile``), built once at the end of a read."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.profiles.model import Profile, ProfileMeta

if TYPE_CHECKING:
    from analysis.profiles.callgrind.reader import Reader

NO_LINE = -1


class Tables:
    """The kernel's tables as the model's DataFrames: handles become names, and rows whose names
    coincide (an uncompressed name seen twice, an id redefined) are merged."""

    def __init__(self, reader: Reader) -> None:
        assert reader.events is not None
        k, st = reader.k, reader.st
        self.reader = reader
        self.events = list(reader.events)
        self.counts = {name: int(st[slot]) for name, slot in (("fn", k.N_FN), ("lt", k.N_LT), ("it", k.N_IT))}
        self.counts["ct"] = int(st[k.N_CT])
        n_fn = self.counts["fn"]
        objects, files, functions = reader.names
        ob_code, ob_names, _ = _by_name(reader.fn.keys[:n_fn, 0], objects)
        fn_code, fn_names, _ = _by_name(reader.fn.keys[:n_fn, 1], functions)
        fl_code, fl_names, _ = _by_name(reader.fn.extra[:n_fn], files)
        fid = pd.factorize(ob_code * max(len(fn_names), 1) + fn_code)[0].astype(np.int64)
        first = np.unique(fid, return_index=True)[1]  # a function's first row: its file, as written
        self.fid = fid
        self.shared = np.bincount(fid, minlength=len(first)) > 1  # names with several kernel rows
        self.text = {
            "function": pa.array(fn_names, type=pa.large_string()).take(pa.array(fn_code[first])),
            "object": pa.array(ob_names, type=pa.large_string()).take(pa.array(ob_code[first])),
        }
        self.names = pd.DataFrame(
            {
                "function": self.text["function"].to_pandas(),
                "object": self.text["object"].to_pandas(),
                "file": _text(fl_code[first], fl_names),
            }
        )

    def profile(self) -> Profile:
        reader = self.reader
        for table in (reader.fn, reader.lt, reader.it, reader.ct):
            table.release()
        events = self.events
        functions = self._functions()
        totals = reader.sums
        notes = ()
        if not reader.instructions and "instr" in reader.positions:
            notes = ("per-instruction costs were not read (instructions=False)",)
        meta = ProfileMeta(
            tool="callgrind" if self._is_callgrind() else "cachegrind",
            command=reader.header.get("cmd", ""),
            events=tuple(events),
            totals={event: int(totals[i]) for i, event in enumerate(events)},
            summary=self._summary(),
            creator=reader.header.get("creator", ""),
            positions=tuple(reader.positions),
            parts=reader.parts,
            descriptions=tuple(reader.descriptions),
            notes=notes,
        )
        return Profile(
            meta=meta,
            functions=functions,
            lines=self._lines(),
            instructions=self._instructions(),
            calls=self._calls(),
        )

    def _summary(self) -> dict[str, int] | None:
        if not self.reader.summaries:
            return None
        total = np.array(self.reader.summaries, dtype=np.int64).sum(axis=0)
        return {event: int(total[i]) for i, event in enumerate(self.events)}

    def _is_callgrind(self) -> bool:
        reader = self.reader
        creator = reader.header.get("creator", "")
        return "callgrind" in creator or self.counts["ct"] > 0 or "instr" in reader.positions

    # -- tables ---------------------------------------------------------------------------------

    def _functions(self) -> pd.DataFrame:
        reader, events = self.reader, self.events
        n_functions = len(self.names)
        own = _summed(self.fid, reader.fn.vals[: self.counts["fn"]].T, n_functions)
        n_calls = self.counts["ct"]
        caller = self.fid[reader.ct.keys[:n_calls, 0]]
        callee = self.fid[reader.ct.keys[:n_calls, 1]]
        outgoing = caller != callee
        called = _summed(caller[outgoing], reader.ct.vals[:n_calls][outgoing].T, n_functions)
        frame = self.names.copy()
        for i, event in enumerate(events):
            frame[f"self_{event}"] = own[i]
        for i, event in enumerate(events):
            frame[f"incl_{event}"] = own[i] + called[i]
        return frame

    def _lines(self) -> pd.DataFrame:
        reader = self.reader
        n = self.counts["lt"]
        keys = reader.lt.keys[:n]
        fid = self.fid[keys[:, 0]]
        file_code, file_names, shared_file = _by_name(keys[:, 1], reader.names[1])
        line = keys[:, 2]
        costs = reader.lt.vals[:n].T
        keep = line != NO_LINE
        if not keep.all():
            fid, file_code, line, costs = fid[keep], file_code[keep], line[keep], costs[:, keep]
        key = {"fid": fid, "file": file_code, "line": line}
        key, costs = _merged(key, costs, self.shared[fid] | shared_file[file_code])
        front = self._labels(key["fid"]).assign(file=_text(key["file"], file_names), line=key["line"])
        return _with_costs(front[["function", "object", "file", "line"]], costs, self.events)

    def _instructions(self) -> pd.DataFrame:
        reader = self.reader
        n = self.counts["it"]
        keys = reader.it.keys[:n]
        key = {"fid": self.fid[keys[:, 0]], "address": keys[:, 1]}
        costs = reader.it.vals[:n].T
        key, costs = _merged(key, costs, self.shared[key["fid"]])
        front = self._labels(key["fid"]).assign(address=key["address"])
        frame = _with_costs(front[["function", "object", "address"]], costs, self.events)
        return frame.assign(
            mnemonic=pd.Series(pd.NA, index=frame.index, dtype="string"),
            operands=pd.Series(pd.NA, index=frame.index, dtype="string"),
            vector_width=pd.Series(pd.NA, index=frame.index, dtype="Int64"),
        )

    def _calls(self) -> pd.DataFrame:
        reader = self.reader
        n = self.counts["ct"]
        keys = reader.ct.keys[:n]
        key = {"caller": self.fid[keys[:, 0]], "callee": self.fid[keys[:, 1]]}
        costs = np.vstack([reader.ct.extra[:n][None, :], reader.ct.vals[:n].T])
        key, costs = _merged(key, costs, self.shared[key["caller"]] | self.shared[key["callee"]])
        caller = self._named(key["caller"])
        callee = self._named(key["callee"])
        front = pd.DataFrame(
            {
                "caller": caller["function"],
                "caller_object": caller["object"],
                "callee": callee["function"],
                "callee_object": callee["object"],
            }
        )
        return _with_costs(front, costs, ["calls", *self.events])

    def _labels(self, fid: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({name: _text(fid, column) for name, column in self.text.items()})

    def _named(self, fid: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "function": self.names["function"].take(fid).reset_index(drop=True),
                "object": self.names["object"].take(fid).reset_index(drop=True),
            }
        )


def _summed(index: np.ndarray, costs: np.ndarray, size: int) -> np.ndarray:
    """Costs (events × rows) added up by ``index`` into events × ``size``."""
    out = np.zeros((costs.shape[0], size), dtype=np.int64)
    if len(index) == size and (index == np.arange(size)).all():
        out[:, :] = costs
        return out
    for i in range(costs.shape[0]):
        np.add.at(out[i], index, costs[i])
    return out


def _by_name(handles: np.ndarray, names: dict[int, str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Codes into a list of distinct names for an array of handles, and which names several
    handles share."""
    codes, uniques = pd.factorize(handles)
    distinct: dict[str, int] = {}
    recode = np.array(
        [distinct.setdefault(names[h], len(distinct)) for h in uniques.tolist()], dtype=np.int64
    )
    shared = np.bincount(recode, minlength=len(distinct)) > 1
    return recode[codes] if len(codes) else codes.astype(np.int64), list(distinct), shared


def _merged(
    key: dict[str, np.ndarray], costs: np.ndarray, involved: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sum rows whose keys coincide once handles are names (callgrind gives a function one id per
    file it is seen in, and an uncompressed name may repeat). Only ``involved`` rows can, so only
    they are grouped; each duplicate is added to its first row, and the last rows move into the
    places of the duplicates."""
    rows = np.flatnonzero(involved)
    if not len(rows):
        return key, costs
    frame = pd.DataFrame({name: column[rows] for name, column in key.items()})
    group = frame.groupby(list(key), sort=False).ngroup().to_numpy()
    target = rows[np.unique(group, return_index=True)[1]][group]
    extra = target != rows
    if not extra.any():
        return key, costs
    table = costs.T  # rows × events, the kernel's own array: changed in place, never copied
    np.add.at(table, target[extra], table[rows[extra]])
    drop = rows[extra]
    cut = len(table) - len(drop)
    holes = drop[drop < cut]
    movers = np.setdiff1d(np.arange(cut, len(table)), drop)  # the last rows fill the holes
    table[holes] = table[movers]
    for column in key.values():
        column[holes] = column[movers]
    return {name: column[:cut] for name, column in key.items()}, table[:cut].T


def _text(codes: np.ndarray, names) -> pd.Series:
    """``names[codes]`` as the model's text column (pandas ``str``), taken by Arrow's C++ kernel."""
    if not isinstance(names, pa.Array):
        names = pa.array(names, type=pa.large_string())
    return names.take(pa.array(codes)).to_pandas().reset_index(drop=True)


def _with_costs(front: pd.DataFrame, costs: np.ndarray, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(costs.T, columns=columns, copy=False)
    return pd.concat([front.reset_index(drop=True), frame], axis=1)
