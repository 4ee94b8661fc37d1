"""Vectorization coverage: the demo profiles joined with their own disassembly (objdump reader), and
mix tables built here in the model's documented columns."""

import dataclasses
import functools
from pathlib import Path

import pandas as pd
import pytest

from analysis.insights import vectorization
from analysis.profiles.callgrind import parse_callgrind
from analysis.profiles.model import MIX_COLUMNS, Profile, ProfileMeta, empty_mix
from analysis.profiles.objdump import join_disassembly, parse_objdump

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@functools.cache
def joined(name: str) -> Profile:
    profile = parse_callgrind(DEMO / f"{name}.callgrind")
    return join_disassembly(profile, parse_objdump(DEMO / f"{name}.objdump"))


def mix_profile(mix_rows: list[tuple], functions: list[dict]) -> Profile:
    """Instructions counted by an SDE-like tool: a functions table and a mix table."""
    frame = pd.DataFrame(functions)
    frame["incl_icount"] = frame["self_icount"]
    meta = ProfileMeta(
        tool="sde", command="./app", events=("icount",), totals={"icount": int(frame.self_icount.sum())}
    )
    mix = pd.DataFrame(mix_rows, columns=list(MIX_COLUMNS)).astype({"count": "int64"})
    empty = pd.DataFrame(columns=["function", "object"])
    return Profile(meta, frame, empty, empty, pd.DataFrame(columns=["caller", "callee", "calls"]), mix=mix)


def test_the_vectorized_loop_reports_its_executed_ymm_share_with_samples():
    profile = joined("after")
    rows = {row.function: row for row in vectorization(profile).rows}
    loop = rows["update_particles"]
    table = profile.instructions
    mine = table[
        (table.function == "update_particles") & table.register_class.isin(["zmm", "ymm", "xmm", "scalar"])
    ]
    ymm_ir = mine[mine.register_class == "ymm"].Ir.sum()
    assert loop.basis == "dynamic"
    assert loop.counts["ymm"] == ymm_ir and loop.instructions == mine.Ir.sum()
    assert loop.shares["ymm"].value == pytest.approx(ymm_ir / mine.Ir.sum())
    assert loop.shares["ymm"].kind == "exact"
    assert {"vfmadd213ps", "vmovups"} & {s["mnemonic"] for s in loop.samples if s["register_class"] == "ymm"}
    assert loop.hot_share.value == pytest.approx(
        profile.functions.set_index("function").self_Ir["update_particles"] / profile.meta.totals["Ir"]
    )
    kinds = {(c.function, c.kind) for c in vectorization(profile).upgrade_candidates}
    assert ("update_particles", "avx2") in kinds
    assert ("count_above", "avx2") not in kinds


def test_the_pointer_chase_runs_scalar_code_only():
    rows = {row.function: row for row in vectorization(joined("before")).rows}
    chase = rows["update_particles"]
    assert chase.counts["ymm"] == chase.counts["zmm"] == 0
    assert chase.shares["scalar"].value > 0.99
    assert chase.scalar_fp_share.value > 0.3  # movss/mulss/addss: what a contiguous layout could pack
    assert not [c for c in vectorization(joined("before")).upgrade_candidates if c.kind == "avx2"]


def test_dynamic_mix_is_preferred_to_static_and_the_program_row_is_used():
    profile = mix_profile(
        [
            ("kernel", "app", "register_class", "zmm", 40, "static"),
            ("kernel", "app", "register_class", "scalar", 60, "static"),
            ("kernel", "app", "register_class", "ymm", 750, "dynamic"),
            ("kernel", "app", "register_class", "scalar", 250, "dynamic"),
            ("setup", "app", "register_class", "scalar", 10, "static"),
            ("", "", "register_class", "ymm", 750, "dynamic"),
            ("", "", "register_class", "scalar", 260, "dynamic"),
            ("kernel", "app", "iclass", "VFMADD213PS", 500, "dynamic"),
        ],
        [
            {"function": "kernel", "object": "app", "file": "", "self_icount": 1000},
            {"function": "setup", "object": "app", "file": "", "self_icount": 10},
        ],
    )
    result = vectorization(profile)
    kernel, setup = result.rows
    assert (kernel.function, kernel.basis, kernel.counts["zmm"]) == ("kernel", "dynamic", 0)
    assert kernel.shares["ymm"].value == pytest.approx(0.75)
    assert (setup.basis, setup.shares["scalar"].value) == ("static", 1.0)
    assert result.program_basis == "dynamic"
    assert result.program["ymm"].numerator == 750 and result.program["ymm"].denominator == 1010
    assert [(c.function, c.kind) for c in result.upgrade_candidates] == [("kernel", "avx2")]
    assert kernel.scalar_fp_share.value is None  # no mnemonics: no scalar-FP claim
    assert "no instruction samples" in result.notes[0]


def test_without_a_mix_vectorization_is_not_measured():
    profile = parse_callgrind(DEMO / "before.callgrind")
    result = vectorization(profile)
    assert result.rows == () and result.upgrade_candidates == ()
    assert result.notes[0].startswith("not measured")


def test_without_a_mix_table_the_joined_instructions_give_the_same_dynamic_counts():
    profile = joined("after")
    bare = dataclasses.replace(profile, mix=empty_mix())
    with_mix = {row.function: row.counts for row in vectorization(profile, limit=50).rows}
    without = {row.function: row.counts for row in vectorization(bare, limit=50).rows}
    assert without["update_particles"] == with_mix["update_particles"]
    assert without == with_mix
