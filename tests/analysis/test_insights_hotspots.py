"""Hotspots and the stored summary, on the demo callgrind profile (figures recomputed here from the
parsed tables) and on perf- and gprof-shaped profiles built in the test."""

import functools
import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.insights import hotspots, summary
from analysis.profiles.callgrind import parse_callgrind
from analysis.profiles.model import Profile, ProfileMeta

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@functools.cache
def demo(name: str) -> Profile:
    return parse_callgrind(DEMO / f"{name}.callgrind")


def table_profile(tool: str, events: tuple[str, ...], rows: list[dict]) -> Profile:
    """A profile with a functions table only, as a perf or gprof reader would give."""
    functions = pd.DataFrame(rows)
    for event in events:
        functions[f"incl_{event}"] = functions.get(f"incl_{event}", functions[f"self_{event}"])
    totals = {event: int(functions[f"self_{event}"].sum()) for event in events}
    meta = ProfileMeta(tool=tool, command="./app", events=events, totals=totals)
    empty = pd.DataFrame(columns=["function", "object"])
    return Profile(meta, functions, empty, empty, pd.DataFrame(columns=["caller", "callee", "calls"]))


def test_function_hotspots_are_the_largest_self_ir_with_shares_of_the_total():
    profile = demo("before")
    result = hotspots(profile, limit=3)
    expected = profile.functions.nlargest(3, "self_Ir")
    assert result.event == "Ir" and result.kind == "exact"
    assert [row.function for row in result.rows] == list(expected.function)
    first, record = result.rows[0], expected.iloc[0]
    assert first.function == "update_particles"
    assert first.self.value == record.self_Ir and first.inclusive.value == record.incl_Ir
    assert first.self_share.value == pytest.approx(record.self_Ir / profile.meta.totals["Ir"])
    assert (first.self_share.numerator, first.self_share.denominator) == (
        record.self_Ir,
        profile.meta.totals["Ir"],
    )


def test_callgrind_rows_carry_kcachegrind_cest_labelled_estimated_and_no_cpi():
    profile = demo("before")
    row = hotspots(profile, limit=1).rows[0]
    record = profile.functions.set_index("function").loc["update_particles"]
    weights = {"Ir": 1, "Bcm": 10, "Bim": 10, "I1mr": 10, "D1mr": 10, "D1mw": 10}
    weights |= {"ILmr": 100, "DLmr": 100, "DLmw": 100}
    expected = sum(weight * int(record[f"self_{event}"]) for event, weight in weights.items())
    assert row.estimated_cycles.value == expected
    assert row.estimated_cycles.kind == "estimated"
    assert row.cpi.value is None and "no cycles event" in row.cpi.note


def test_line_hotspots_come_from_the_lines_table_and_blocks_are_not_measured_by_callgrind():
    profile = demo("before")
    top = hotspots(profile, by="line", limit=1).rows[0]
    line = profile.lines.nlargest(1, "Ir").iloc[0]
    assert (top.function, top.file, top.line, top.self.value) == (
        line.function,
        line.file,
        line.line,
        line.Ir,
    )
    assert top.inclusive.value is None
    blocks = hotspots(profile, by="block")
    assert blocks.rows == () and "no basic blocks" in blocks.notes[0]


def test_measured_cycles_rank_first_and_give_cpi():
    profile = table_profile(
        "perf",
        ("instructions", "cycles"),
        [
            {
                "function": "stream",
                "object": "app",
                "file": "",
                "self_instructions": 9000,
                "self_cycles": 3000,
            },
            {
                "function": "chase",
                "object": "app",
                "file": "",
                "self_instructions": 1000,
                "self_cycles": 6000,
            },
        ],
    )
    result = hotspots(profile)
    assert result.event == "cycles" and result.kind == "sampled"
    chase = result.rows[0]
    assert chase.function == "chase" and chase.cpi.value == 6.0
    assert (chase.cpi.numerator, chase.cpi.denominator, chase.cpi.kind) == (6000, 1000, "sampled")
    assert chase.estimated_cycles.value is None
    assert hotspots(profile, event="instructions").rows[0].function == "stream"


def test_time_only_profiles_rank_by_time_and_say_cpi_is_not_measured():
    profile = table_profile(
        "gprof",
        ("time_ns",),
        [{"function": "solve", "object": "", "file": "", "self_time_ns": 40}],
    )
    row = hotspots(profile).rows[0]
    assert row.self.events == ("time_ns",) and row.self_share.value == 1.0
    assert row.cpi.value is None and row.cpi.note.startswith("not measured")
    with pytest.raises(ValueError, match="not in this profile"):
        hotspots(profile, event="cycles")


def test_as_dict_is_json_and_the_summary_lists_the_top_five():
    profile = demo("after")
    json.dumps(hotspots(profile).as_dict())
    stored = summary(profile)
    json.dumps(stored)
    assert stored["tool"] == "callgrind" and stored["event"] == "Ir"
    assert stored["function_count"] == len(profile.functions)
    assert stored["totals"]["Ir"] == profile.meta.totals["Ir"]
    assert [row["function"] for row in stored["top"]] == list(
        profile.functions.nlargest(5, "self_Ir").function
    )
    assert {"name": "D1mr", "canonical": "l1d_read_miss", "kind": "simulated"} in stored["events"]
