"""Memory and branch figures: the demo's pointer chase against its own rows of the parsed profile,
and a perf-shaped profile with TLB and cycle events but no access counts."""

import functools
from pathlib import Path

import pandas as pd
import pytest

from analysis.insights import memory
from analysis.profiles.callgrind import parse_callgrind
from analysis.profiles.model import Profile, ProfileMeta

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@functools.cache
def demo(name: str) -> Profile:
    return parse_callgrind(DEMO / f"{name}.callgrind")


def own(profile: Profile, function: str) -> pd.Series:
    return profile.functions.set_index("function").loc[function]


def perf_profile(rows: list[dict], events: tuple[str, ...]) -> Profile:
    functions = pd.DataFrame(rows)
    for event in events:
        functions[f"incl_{event}"] = functions[f"self_{event}"]
    totals = {event: int(functions[f"self_{event}"].sum()) for event in events}
    meta = ProfileMeta(tool="perf", command="./app", events=events, totals=totals)
    empty = pd.DataFrame(columns=["function", "object"])
    return Profile(meta, functions, empty, empty, pd.DataFrame(columns=["caller", "callee", "calls"]))


def test_the_pointer_chase_ranks_first_with_its_own_d1_and_ll_rates():
    profile = demo("before")
    result = memory(profile)
    first = result.rows[0]
    row = own(profile, "update_particles")
    assert first.function == "update_particles"
    d1 = first.figures["d1_miss_rate"]
    assert d1.value == pytest.approx((row.self_D1mr + row.self_D1mw) / (row.self_Dr + row.self_Dw))
    assert (d1.numerator, d1.denominator) == (row.self_D1mr + row.self_D1mw, row.self_Dr + row.self_Dw)
    assert d1.kind == "simulated" and d1.events == ("D1mr", "D1mw", "Dr", "Dw")
    ll_mpki = first.figures["ll_mpki"]
    assert ll_mpki.value == pytest.approx(1000 * (row.self_DLmr + row.self_DLmw) / row.self_Ir)
    assert ll_mpki.value > 100  # one simulated LL miss per 8 instructions of the loop
    assert f"LL MPKI {ll_mpki.value:.1f}" in first.reason
    assert first.score.kind == "estimated" and first.score.value > 0.5


def test_the_branchy_function_shows_its_mispredict_rate_and_callgrind_has_no_tlb_or_cpi():
    profile = demo("before")
    rows = {row.function: row for row in memory(profile).rows}
    branchy = rows["count_above"]
    record = own(profile, "count_above")
    rate = branchy.figures["branch_mispredict_rate"]
    assert rate.value == pytest.approx(record.self_Bcm / record.self_Bc)
    assert 0.2 < rate.value < 0.3  # a random 50/50 branch
    assert "branches mispredicted" in branchy.reason
    assert branchy.figures["dtlb_misses"].value is None
    assert branchy.figures["cpi"].value is None
    assert any("TLB" in note for note in memory(profile).notes)


def test_the_optimised_loop_has_no_ll_misses_left():
    after = {row.function: row for row in memory(demo("after"), limit=50).rows}
    loop = after["update_particles"]
    assert loop.figures["ll_mpki"].value == 0
    assert loop.figures["ll_mpki"].numerator == 0


def test_perf_events_give_mpki_tlb_and_cpi_but_no_miss_rate_without_access_counts():
    events = ("cycles", "instructions", "cache-misses", "dTLB-load-misses")
    profile = perf_profile(
        [
            {
                "function": "gather",
                "object": "app",
                "file": "",
                "self_cycles": 8000,
                "self_instructions": 2000,
                "self_cache-misses": 50,
                "self_dTLB-load-misses": 20,
            },
            {
                "function": "compute",
                "object": "app",
                "file": "",
                "self_cycles": 2000,
                "self_instructions": 6000,
                "self_cache-misses": 1,
                "self_dTLB-load-misses": 0,
            },
        ],
        events,
    )
    first = memory(profile).rows[0]
    assert first.function == "gather"
    assert first.figures["ll_mpki"].value == pytest.approx(25.0)
    assert first.figures["dtlb_misses"].value == 20
    assert first.figures["dtlb_mpki"].value == pytest.approx(10.0)
    assert first.figures["cpi"].value == pytest.approx(4.0)
    assert first.figures["ll_miss_rate"].value is None
    assert first.figures["ll_miss_rate"].note.startswith("not measured")
    assert first.figures["dtlb_misses"].kind == "sampled"
    assert "CPI 4.00" in first.reason and "20 dTLB misses" in first.reason


def test_a_time_only_profile_has_no_memory_rows():
    profile = perf_profile(
        [{"function": "solve", "object": "", "file": "", "self_cpu-clock": 5}], ("cpu-clock",)
    )
    result = memory(profile)
    assert result.rows == ()
    assert result.notes[0].startswith("not measured")
