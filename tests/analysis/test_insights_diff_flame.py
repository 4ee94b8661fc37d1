"""The before/after diff of the demo and the flame tree built from its call graph."""

import functools
from pathlib import Path

import pandas as pd
import pytest

from analysis.insights import diff, flame
from analysis.profiles.callgrind import parse_callgrind
from analysis.profiles.model import Profile, ProfileMeta

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@functools.cache
def demo(name: str) -> Profile:
    return parse_callgrind(DEMO / f"{name}.callgrind")


def graph_profile(self_costs: dict[str, int], edges: list[tuple[str, str, int]], inclusive: dict[str, int]):
    functions = pd.DataFrame(
        [
            {"function": name, "object": "app", "file": "", "self_Ir": cost, "incl_Ir": inclusive[name]}
            for name, cost in self_costs.items()
        ]
    )
    calls = pd.DataFrame(
        [(caller, "app", callee, "app", 1, cost) for caller, callee, cost in edges],
        columns=["caller", "caller_object", "callee", "callee_object", "calls", "Ir"],
    )
    meta = ProfileMeta("callgrind", "./app", ("Ir",), {"Ir": sum(self_costs.values())})
    empty = pd.DataFrame(columns=["function", "object"])
    return Profile(meta, functions, empty, empty, calls)


def test_the_optimised_function_loses_share_and_the_unchanged_one_is_not_a_regression():
    before, after = demo("before"), demo("after")
    result = diff(before, after)
    rows = {row.function: row for row in result.rows}
    loop = rows["update_particles"]
    ir_before = before.functions.set_index("function").self_Ir
    ir_after = after.functions.set_index("function").self_Ir
    assert loop.before_share.value == pytest.approx(ir_before["update_particles"] / before.meta.totals["Ir"])
    assert loop.after_share.value == pytest.approx(ir_after["update_particles"] / after.meta.totals["Ir"])
    assert loop.share_change.value < -0.15 and loop.status == "improved"
    assert loop in result.improvements
    unchanged = rows["count_above"]
    assert unchanged.cost_ratio.value == 1.0 and unchanged.status == "shifted"
    assert unchanged.share_change.value > 0  # the total fell around it
    assert result.regressions == ()
    assert result.total_change.value == pytest.approx(after.meta.totals["Ir"] / before.meta.totals["Ir"] - 1)
    assert sum(row.contribution.value for row in diff(before, after, limit=10_000).rows) == pytest.approx(
        result.total_change.value
    )


def test_gcc_clones_match_and_a_slower_function_is_a_regression():
    before = graph_profile({"main": 10, "kernel": 90}, [], {"main": 10, "kernel": 90})
    after = graph_profile({"main": 30, "kernel.constprop.0": 60}, [], {"main": 30, "kernel.constprop.0": 60})
    rows = {row.function: row for row in diff(before, after).rows}
    assert rows["kernel"].names == ("kernel", "kernel.constprop.0") and rows["kernel"].status == "improved"
    assert rows["main"].status == "regressed" and rows["main"].cost_ratio.value == 3.0
    with pytest.raises(ValueError, match="no event in common"):
        diff(before, after, event="cycles")


def test_flame_roots_and_main_carry_callgrind_inclusive_costs():
    profile = demo("before")
    tree = flame(profile).tree
    incl = profile.functions.set_index(["function", "object"]).incl_Ir
    for child in tree["children"]:
        if child["name"] not in ("(self)", "(other)"):
            assert child["value"] == incl[(child["name"], child["object"])]

    def walk(node, found):
        children = node.get("children", [])
        if children:
            assert sum(child["value"] for child in children) == node["value"], node["name"]
        if node["name"] == "main":
            found.append(node)
        for child in children:
            walk(child, found)
        return found

    (main,) = walk(tree, [])
    assert main["value"] == incl[("main", "/src/demo/before")]
    names = {child["name"]: child["value"] for child in main["children"]}
    edges = profile.calls[profile.calls.caller == "main"].set_index("callee").Ir
    assert names["update_particles"] == edges["update_particles"]
    assert names["(self)"] == profile.functions.set_index("function").self_Ir["main"]


def test_recursion_is_cut_and_small_callees_are_merged():
    profile = graph_profile(
        {"main": 10, "a": 50, "b": 38, "tiny": 2},
        [("main", "a", 90), ("a", "b", 40), ("b", "a", 20), ("main", "tiny", 2)],
        {"main": 102, "a": 90, "b": 40, "tiny": 2},
    )
    tree = flame(profile, min_share=0.05).tree
    (main,) = [child for child in tree["children"] if child["name"] == "main"]
    by_name = {child["name"]: child for child in main["children"]}
    assert by_name["a"]["value"] == 90 and by_name["(other)"]["value"] == 2
    (b,) = [child for child in by_name["a"]["children"] if child["name"] == "b"]
    assert b["value"] == 40 and "children" not in b  # its only callee, a, is on the path: cut
    assert flame(profile, max_depth=1).tree["children"][0].get("children") is None


def test_without_a_call_graph_small_functions_are_merged_at_the_first_level():
    costs = {f"f{index}": 1 for index in range(300)} | {"hot": 700}
    profile = graph_profile(costs, [], costs)
    result = flame(profile, min_share=0.01)
    by_name = {child["name"]: child["value"] for child in result.tree["children"]}
    assert by_name == {"hot": 700, "(other)": 300}
    assert result.tree["value"] == 1000 and "no call graph" in result.notes[0]
