"""One function in depth, against the demo profile's own tables."""

import functools
from pathlib import Path

import pytest

from analysis.insights import function_detail
from analysis.profiles.callgrind import parse_callgrind
from analysis.profiles.model import Profile
from analysis.profiles.objdump import join_disassembly, parse_objdump

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@functools.cache
def demo(name: str) -> Profile:
    return parse_callgrind(DEMO / f"{name}.callgrind")


def test_the_detail_has_every_event_callers_and_top_lines_from_the_tables():
    profile = demo("before")
    detail = function_detail(profile, "update_particles")
    row = profile.functions.set_index("function").loc["update_particles"]
    costs = {cost.event: cost for cost in detail.costs}
    assert list(costs) == list(profile.meta.events)
    assert costs["Ir"].self.value == row.self_Ir and costs["DLmr"].kind == "simulated"
    assert costs["D1mr"].self_share.value == pytest.approx(row.self_D1mr / profile.meta.totals["D1mr"])
    (caller,) = detail.callers
    edge = profile.calls[(profile.calls.callee == "update_particles")].iloc[0]
    assert (caller.function, caller.calls, caller.cost.value) == ("main", 8, edge.Ir)
    assert detail.callees == ()
    lines = profile.lines[profile.lines.function == "update_particles"].nlargest(1, "Ir").iloc[0]
    assert (detail.top_lines[0]["line"], detail.top_lines[0]["cost"].value) == (lines.line, lines.Ir)
    assert detail.memory["d1_miss_rate"].value == pytest.approx(
        (row.self_D1mr + row.self_D1mw) / (row.self_Dr + row.self_Dw)
    )
    assert detail.estimated_cycles.kind == "estimated"


def test_main_lists_its_callees_with_counts():
    detail = function_detail(demo("before"), "main")
    callees = {edge.function: edge.calls for edge in detail.callees}
    assert callees["update_particles"] == 8 and callees["count_above"] == 8
    assert callees["build_particles"] == 1


def test_the_detail_shows_the_dynamic_instruction_mix_when_joined():
    profile = join_disassembly(demo("after"), parse_objdump(DEMO / "after.objdump"))
    detail = function_detail(profile, "update_particles")
    classes = detail.mix["register_class"]
    assert classes["basis"] == "dynamic"
    shares = {row["key"]: row["share"] for row in classes["rows"]}
    assert shares["ymm"] > 0.05 and sum(shares.values()) == pytest.approx(1.0)
    code = profile.instructions.set_index(["function", "address"])
    for row in detail.top_instructions:
        assert row["register_class"] == code.register_class[("update_particles", row["address"])]
        assert row["cost"].value == code.Ir[("update_particles", row["address"])]
    detail.as_dict()


def test_an_absent_function_is_a_lookup_error():
    with pytest.raises(LookupError, match="no function 'nowhere'"):
        function_detail(demo("before"), "nowhere")
    with pytest.raises(LookupError):
        function_detail(demo("before"), "main", object="/lib/other.so")
