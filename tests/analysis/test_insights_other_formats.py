"""Insights on what the other readers produce: a gprof report (time samples, a call graph, nothing
else) and an Intel SDE mix (instruction counts, a dynamic mix, top blocks, no misses). Each answers what
its data can answer and says "not measured" for the rest."""

import zipfile
from pathlib import Path

import pytest

from analysis import insights
from analysis.profiles.gprof import parse_gprof
from analysis.profiles.sde import parse_sde_mix
from analysis.profiles.tabular import parse_tabular

SAMPLES = Path(__file__).resolve().parent / "samples"


def gprof():
    return parse_gprof(SAMPLES / "gprof-units-and-suffixes.txt")


def sde():
    return parse_sde_mix(SAMPLES / "sde-mix-out.gapbs-tid0.txt")


def test_gprof_hotspots_rank_by_samples_and_the_flame_follows_its_call_graph():
    profile = gprof()
    top = insights.hotspots(profile).rows[0]
    row = profile.functions.nlargest(1, "self_samples").iloc[0]
    assert (top.function, top.self.value, top.self.kind) == (row.function, row.self_samples, "sampled")
    assert top.cpi.value is None and top.estimated_cycles.value is None
    tree = insights.flame(profile).tree
    (main,) = tree["children"]
    incl = profile.functions.set_index("function").incl_samples
    assert main["value"] == incl["main"] == tree["value"]
    children = {child["name"]: child["value"] for child in main["children"]}
    edges = profile.calls[profile.calls.caller == "main"].set_index("callee").samples
    assert children["chase_pointers"] == edges["chase_pointers"]
    assert children["(self)"] == profile.functions.set_index("function").self_samples["main"]


def test_gprof_has_no_vector_memory_or_flag_answers():
    profile = gprof()
    assert insights.vectorization(profile).rows == ()
    assert insights.memory(profile).rows == ()
    advice = insights.recommendations(profile, target="icelake-server")
    assert len(advice) == 0 and advice.flags == ()
    assert all(note.startswith("not measured") for note in advice.notes)


def test_sde_vector_shares_come_from_its_dynamic_mix_and_blocks_rank_by_icount():
    profile = sde()
    rows = insights.vectorization(profile, limit=50).rows
    mix = profile.mix[(profile.mix.key_type == "register_class") & (profile.mix.function != "")]
    for row in rows:
        own = mix[(mix.function == row.function) & (mix.object == row.object)].groupby("key")["count"].sum()
        assert row.basis == "dynamic"
        assert row.counts == {name: int(own.get(name, 0)) for name in ("zmm", "ymm", "xmm", "scalar")}
    assert rows and rows[0].hot_share.value == pytest.approx(
        profile.functions.set_index("function").self_icount[rows[0].function] / profile.meta.totals["icount"]
    )
    blocks = insights.hotspots(profile, by="block", limit=1).rows[0]
    assert blocks.self.value == profile.blocks.icount.max() and blocks.address is not None
    assert insights.memory(profile).rows == ()


def test_a_simulator_tabular_export_gives_cpi_tlb_and_miss_rates(tmp_path):
    """A Runyard tabular profile (as an ISS export would be) with cycles, TLB and access counts."""
    members = {
        "RUNYARD-PROFILE": "runyard-profile 1\n",
        "meta.csv": "key,value\ntool,iss\nkind,simulated\n",
        "functions.csv": (
            "function,object,instructions,cycles,mem_reads,mem_writes,l1d_miss,llc_miss,dtlb_miss\n"
            "gather,app,1000,5000,400,100,100,40,25\n"
            "compute,app,9000,4500,2000,1000,30,1,0\n"
        ),
    }
    with zipfile.ZipFile(tmp_path / "iss.runyard.zip", "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    profile = parse_tabular(tmp_path / "iss.runyard.zip")
    hot = insights.hotspots(profile)
    assert hot.event == "cycles" and hot.rows[0].function == "gather"
    assert hot.rows[0].cpi.value == 5.0 and hot.rows[0].cpi.kind == "simulated"
    (gather, compute) = insights.memory(profile).rows
    assert gather.function == "gather"
    assert gather.figures["d1_miss_rate"].value == pytest.approx(100 / 500)
    assert gather.figures["ll_mpki"].value == pytest.approx(40.0)
    assert gather.figures["dtlb_mpki"].value == pytest.approx(25.0)
    assert compute.figures["cpi"].value == pytest.approx(0.5)
    assert any(item.rule == "memory" for item in insights.recommendations(profile))
