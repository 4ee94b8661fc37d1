"""The tables of the format: their columns, each column's kind, which are required, the order
they are written in, and the dtypes they are read as."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

MARKER = "RUNYARD-PROFILE"
MAGIC = "runyard-profile"
VERSION = 1
MAX_INT = 2**63 - 1
TEXT, COUNT, ADDRESS, OPTIONAL_INT, FLAG = "text", "count", "address", "optional_int", "flag"


@dataclass(frozen=True)
class Table:
    """Known columns of a table (name -> kind), which of them are required, and whether the table
    carries event counters."""

    columns: dict[str, str]
    required: tuple[str, ...]
    counters: bool = True
    optional_text: tuple[str, ...] = field(default_factory=tuple)  # absent -> not written by the tool


TABLES = {
    "meta": Table({"key": TEXT, "value": TEXT}, ("key", "value"), counters=False),
    "events": Table(
        {"name": TEXT, "canonical": TEXT, "kind": TEXT, "unit": TEXT, "label": TEXT},
        ("name", "canonical", "kind"),
        counters=False,
    ),
    "functions": Table(
        {"function": TEXT, "object": TEXT, "file": TEXT, "address": OPTIONAL_INT, "calls": OPTIONAL_INT},
        ("function",),
    ),
    "lines": Table({"function": TEXT, "object": TEXT, "file": TEXT, "line": COUNT}, ("function", "line")),
    "instructions": Table(
        {
            "function": TEXT,
            "object": TEXT,
            "address": ADDRESS,
            "mnemonic": TEXT,
            "operands": TEXT,
            "register_class": TEXT,
            "isa_ext": TEXT,
            "vector_width": OPTIONAL_INT,
            "evex": FLAG,
        },
        ("function", "address"),
        optional_text=("mnemonic", "operands", "register_class", "isa_ext"),
    ),
    "blocks": Table(
        {"function": TEXT, "object": TEXT, "address": ADDRESS, "instructions": COUNT, "executions": COUNT},
        ("function", "address", "executions"),
    ),
    "calls": Table(
        {"caller": TEXT, "caller_object": TEXT, "callee": TEXT, "callee_object": TEXT, "calls": COUNT},
        ("caller", "callee", "calls"),
    ),
    "memory": Table(
        {"function": TEXT, "object": TEXT, "file": TEXT, "line": OPTIONAL_INT, "address": OPTIONAL_INT},
        ("function",),
    ),
    "mix": Table(
        {"function": TEXT, "object": TEXT, "key_type": TEXT, "key": TEXT, "count": COUNT, "basis": TEXT},
        ("function", "key_type", "key", "count", "basis"),
        counters=False,
    ),
}
KEY_COLUMNS = frozenset(
    column for name, table in TABLES.items() if table.counters for column in table.columns
)
ORDER = ("meta", "events", "functions", "lines", "instructions", "blocks", "calls", "memory", "mix")

DTYPES = {TEXT: "str", COUNT: "int64", ADDRESS: "int64", OPTIONAL_INT: "Int64", FLAG: "boolean"}


def empty(spec: Table) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=DTYPES[kind]) for name, kind in spec.columns.items()})
