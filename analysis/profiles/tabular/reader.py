"""Reading a Runyard tabular profile into the model's ``Profile``."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from analysis.profiles.model import (
    CANONICAL,
    KINDS,
    MIX_COLUMNS,
    Event,
    Profile,
    ProfileFormatError,
    ProfileMeta,
)
from analysis.profiles.tabular.archive import Members
from analysis.profiles.tabular.columns import read_csv, read_parquet
from analysis.profiles.tabular.spec import KEY_COLUMNS, TABLES, empty


def parse_tabular(path: str | Path) -> Profile:
    """Read a Runyard tabular profile (a .zip, or a directory with the same members)."""
    try:
        with Members.open(Path(path)) as members:
            return Assembler(members).profile()
    except ProfileFormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise ProfileFormatError(f"not a readable ZIP archive ({error})", 0) from None
    except (pa.ArrowException, OSError, zlib.error, NotImplementedError, RuntimeError) as error:
        # damaged or encrypted members, unsupported compression, Parquet that is not Parquet
        raise ProfileFormatError(f"unreadable member ({error})", 0) from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        raise ProfileFormatError(f"malformed table ({error})", 0) from None


class Assembler:
    """Reads the tables in dependency order (events declare counters; functions fix the event
    list) and builds the Profile."""

    def __init__(self, members: Members) -> None:
        self.members = members
        self.meta: dict[str, list[str]] = {}
        self.event_info: dict[str, Event] = {}
        self.events: list[str] = []
        self.notes: list[str] = []
        self.default_kind = "measured"

    def table(self, name: str) -> pd.DataFrame | None:
        member = self.members.files.get(name)
        if member is None:
            return None
        counter = self._counter_kind(name)
        if self.members.suffix == "csv":
            return read_csv(member, self.members.text_lines(member), TABLES[name], counter)
        return read_parquet(member, self.members.read_bytes(member), TABLES[name], counter)

    def _counter_kind(self, table: str) -> Callable[[str], bool]:
        if not TABLES[table].counters:
            return lambda column: False
        if table == "functions":
            return lambda column: self._is_event(column.removeprefix("incl_"))
        return lambda column: column in self.events

    def _is_event(self, name: str) -> bool:
        return name in self.event_info or name in CANONICAL

    def profile(self) -> Profile:
        self._read_meta()
        self._read_events()
        functions = self.table("functions")
        if functions is None:
            raise ProfileFormatError(
                f"no functions table: every profile has one ({self.members.path.name})", 0
            )
        functions = self._functions(functions)
        memory = self.table("memory")
        lines = self._with_memory(self._costs(self.table("lines"), "lines"), memory, "line")
        instructions = self._with_memory(
            self._costs(self.table("instructions"), "instructions"), memory, "address"
        )
        return Profile(
            meta=self._meta(functions, lines, instructions),
            functions=functions,
            lines=lines,
            instructions=_instruction_columns(instructions, self.events),
            calls=self._costs(self.table("calls"), "calls"),
            blocks=self._costs(self.table("blocks"), "blocks"),
            mix=self._mix(),
        )

    def _read_meta(self) -> None:
        frame = self.table("meta")
        if frame is None:
            return
        for key, value in zip(frame["key"], frame["value"], strict=True):
            self.meta.setdefault(key, []).append(value)
        kind = self._meta_value("kind") or "measured"
        if kind not in KINDS:
            raise ProfileFormatError(f"meta kind {kind!r} is not one of {', '.join(KINDS)}", 0)
        self.default_kind = kind

    def _meta_value(self, key: str) -> str:
        return (self.meta.get(key) or [""])[0]

    def _read_events(self) -> None:
        frame = self.table("events")
        if frame is None:
            return
        for index, row in enumerate(frame.itertuples(index=False)):
            event = Event(
                row.name,
                row.canonical,
                row.kind,
                getattr(row, "unit", "") or "count",
                getattr(row, "label", ""),
            )
            if event.kind not in KINDS or (event.canonical and event.canonical not in CANONICAL):
                raise ProfileFormatError(
                    f"events row {index + 1}: kind must be one of {', '.join(KINDS)} and canonical one of "
                    f"model.CANONICAL or empty (got {event.kind!r}, {event.canonical!r})",
                    0,
                )
            if not event.name or event.name.startswith("incl_") or event.name in KEY_COLUMNS:
                raise ProfileFormatError(f"events row {index + 1}: {event.name!r} cannot name an event", 0)
            self.event_info[event.name] = event

    def _functions(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.events = [column for column in frame.columns if column not in TABLES["functions"].columns]
        self.events = [column for column in self.events if not column.startswith("incl_")]
        for column in frame.columns:
            if column.startswith("incl_") and column[5:] not in self.events:
                raise ProfileFormatError(f"functions: {column} has no self column {column[5:]}", 1)
        extra = [column for column in ("address", "calls") if column in frame.columns]
        result = frame[["function", "object", "file"]].copy()
        for event in self.events:
            result[f"self_{event}"] = frame[event]
        missing = [event for event in self.events if f"incl_{event}" not in frame.columns]
        for event in self.events:
            result[f"incl_{event}"] = frame[event if event in missing else f"incl_{event}"]
        if missing:
            self.notes.append(f"no inclusive cost given for {', '.join(missing)}: inclusive is self")
        for column in extra:
            result[column] = frame[column]
        return result

    def _costs(self, frame: pd.DataFrame | None, table: str) -> pd.DataFrame:
        """A table's keys, then every event column in the profile's order (0 where not given)."""
        spec = TABLES[table]
        if frame is None:
            frame = empty(spec)
        keys = [column for column in spec.columns if column in frame.columns]
        events = [event for event in self.events if event not in spec.columns]  # blocks' instructions
        absent = [event for event in events if event not in frame.columns]
        if absent and len(frame):
            self.notes.append(f"{table} carries no {', '.join(absent)} (shown as 0)")
        result = frame[keys].copy()
        for event in events:
            result[event] = (
                frame[event] if event in frame.columns else pd.Series(0, index=frame.index, dtype="int64")
            )
        return result

    def _with_memory(self, frame: pd.DataFrame, memory: pd.DataFrame | None, position: str) -> pd.DataFrame:
        """Add the memory table's counters at this granularity (rows that give ``position``)."""
        if memory is None or position not in memory.columns:
            return frame
        rows = memory[memory[position].notna()]
        if rows.empty:
            return frame
        keys = (
            ["function", "object", "file", "line"]
            if position == "line"
            else ["function", "object", "address"]
        )
        counters = [column for column in memory.columns if column in self.events]
        rows = rows.assign(**{position: rows[position].astype("int64")})
        summed = rows.groupby(keys, as_index=False, sort=False)[counters].sum()
        merged = frame.merge(summed, on=keys, how="outer", suffixes=("", "_memory"), sort=False)
        for counter in counters:
            merged[counter] = merged[counter].fillna(0).astype("int64") + merged.pop(
                f"{counter}_memory"
            ).fillna(0).astype("int64")
        for event in self.events:
            merged[event] = merged[event].fillna(0).astype("int64")
        return merged.reset_index(drop=True)

    def _mix(self) -> pd.DataFrame:
        frame = self.table("mix")
        if frame is None:
            frame = empty(TABLES["mix"])
        return frame[list(MIX_COLUMNS)]

    def _meta(self, functions: pd.DataFrame, lines: pd.DataFrame, instructions: pd.DataFrame) -> ProfileMeta:
        info = {
            event: self.event_info.get(event)
            or Event(event, event if event in CANONICAL else "", self.default_kind)
            for event in self.events
        }
        positions = tuple(name for name, frame in (("line", lines), ("instr", instructions)) if len(frame))
        return ProfileMeta(
            tool=self._meta_value("tool") or "tabular",
            command=self._meta_value("command"),
            events=tuple(self.events),
            totals={event: int(functions[f"self_{event}"].sum()) for event in self.events},
            creator=self._meta_value("creator"),
            positions=positions or ("line",),
            event_info=info,
            notes=tuple(self.meta.get("note", [])) + tuple(self.notes),
        )


def _instruction_columns(frame: pd.DataFrame, events: list[str]) -> pd.DataFrame:
    """The model's instruction columns: keys, events, then the disassembly (empty when not given)."""
    result = frame[["function", "object", "address", *events]].copy()
    for column in ("mnemonic", "operands"):
        result[column] = frame[column].astype("string") if column in frame else pd.Series(dtype="string")
    result["vector_width"] = frame["vector_width"] if "vector_width" in frame else pd.Series(dtype="Int64")
    for column in ("register_class", "isa_ext", "evex"):
        if column in frame:
            result[column] = frame[column]
    return result
