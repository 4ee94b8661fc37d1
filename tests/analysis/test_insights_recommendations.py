"""Compiler-flag advice: present only when the figures support it, and absent otherwise. The demo
programs are joined with their own disassembly; other cases are mix tables built here."""

import functools
from pathlib import Path

import pandas as pd
import pytest

from analysis.insights import recommendations
from analysis.profiles.callgrind import parse_callgrind
from analysis.profiles.model import MIX_COLUMNS, Profile, ProfileMeta
from analysis.profiles.objdump import join_disassembly, parse_objdump

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@functools.cache
def joined(name: str) -> Profile:
    profile = parse_callgrind(DEMO / f"{name}.callgrind")
    return join_disassembly(profile, parse_objdump(DEMO / f"{name}.objdump"))


def mixed(functions: list[dict], mix_rows: list[tuple], instructions: list[dict] | None = None) -> Profile:
    """An SDE-like profile: instruction counts per function, a dynamic mix, optional mnemonics."""
    frame = pd.DataFrame(functions)
    frame["incl_icount"] = frame["self_icount"]
    meta = ProfileMeta("sde", "./app", ("icount",), {"icount": int(frame.self_icount.sum())})
    mix = pd.DataFrame(mix_rows, columns=list(MIX_COLUMNS)).astype({"count": "int64"})
    code = pd.DataFrame(
        instructions or [],
        columns=["function", "object", "address", "icount", "mnemonic", "operands", "register_class"],
    )
    empty = pd.DataFrame(columns=["function", "object"])
    return Profile(meta, frame, empty, code, pd.DataFrame(columns=["caller", "callee", "calls"]), mix=mix)


def rules(result) -> dict[str, list]:
    found: dict[str, list] = {}
    for item in result:
        found.setdefault(item.rule, []).append(item)
    return found


def test_avx512_flags_only_for_the_hot_ymm_loop_and_an_avx512_target():
    profile = joined("after")
    result = rules(recommendations(profile, target="icelake-server"))
    (avx512,) = result["avx512"]
    assert avx512.flag == "-march=icelake-server -mprefer-vector-width=512"
    assert avx512.functions == ("update_particles",)
    hot, ymm, _zmm = avx512.evidence
    ir = profile.functions.set_index("function").self_Ir
    assert hot.value == pytest.approx(ir["update_particles"] / profile.meta.totals["Ir"])
    assert ymm.value > 0.05 and "ymm" in avx512.reason


def test_no_avx512_flag_without_a_target_or_on_a_target_without_avx512():
    profile = joined("after")
    for target in (None, "haswell", "znver3", "x86-64-v3"):
        result = recommendations(profile, target=target)
        assert not [flag for flag in result.flags if "512" in flag or "-march" in flag], target
        assert any("update_particles runs ymm code" in note for note in result.notes)
    assert "name the deploy target" in " ".join(recommendations(profile).notes)


def test_a_function_already_vectorized_gets_a_hint_not_a_vectorization_flag():
    (vectorize,) = rules(recommendations(joined("after"), target="haswell"))["vectorize"]
    assert vectorize.flag is None
    assert "reduction" in vectorize.hint and vectorize.evidence[1].value >= 0.10


def test_the_memory_bound_pointer_chase_gets_layout_advice_and_no_flag():
    result = recommendations(joined("before"), target="icelake-server")
    found = rules(result)
    assert "avx512" not in found and "vectorize" not in found  # scalar FP there, but memory-bound
    assert not [flag for flag in result.flags if "-march" in flag or "-O3" in flag]
    chase = next(item for item in found["memory"] if item.functions == ("update_particles",))
    assert chase.flag is None
    assert "structure of arrays" in chase.hint and "__builtin_prefetch" in chase.hint
    mpki = next(figure for figure in chase.evidence if figure.formula.startswith("1000·(DLmr+DLmw)"))
    assert mpki.value > 100


def test_pgo_is_advised_for_the_mispredicting_branch_only():
    profile = joined("before")
    (branches,) = rules(recommendations(profile))["branches"]
    assert branches.functions == ("count_above",)
    assert "-fprofile-generate" in branches.flag and "-fprofile-use" in branches.flag
    rate = branches.evidence[0]
    row = profile.functions.set_index("function").loc["count_above"]
    assert rate.value == pytest.approx(row.self_Bcm / row.self_Bc)


def test_a_hot_scalar_fp_loop_that_is_not_memory_bound_gets_o3_and_march():
    code = [
        {
            "function": "solve",
            "object": "app",
            "address": 16,
            "icount": 600,
            "mnemonic": "vfmadd231sd",
            "operands": "%xmm1,%xmm2,%xmm0",
            "register_class": "scalar",
        },
        {
            "function": "solve",
            "object": "app",
            "address": 21,
            "icount": 400,
            "mnemonic": "add",
            "operands": "$0x8,%rax",
            "register_class": "scalar",
        },
    ]
    profile = mixed(
        [{"function": "solve", "object": "app", "file": "", "self_icount": 1000}],
        [("solve", "app", "register_class", "scalar", 1000, "dynamic")],
        code,
    )
    (vectorize,) = recommendations(profile, target="haswell")
    assert vectorize.flag == "-O3 -march=haswell"
    assert vectorize.evidence[1].value == pytest.approx(0.6)
    assert recommendations(profile, target="x86-64").flags == ("-O3",)
    assert recommendations(profile).flags == ("-O3",)


def test_hot_zmm_code_on_a_target_without_avx512_gets_runtime_dispatch_not_a_flag():
    profile = mixed(
        [{"function": "dot", "object": "app", "file": "", "self_icount": 1000}],
        [
            ("dot", "app", "register_class", "zmm", 800, "static"),
            ("dot", "app", "register_class", "scalar", 200, "static"),
        ],
    )
    (dispatch,) = recommendations(profile, target="haswell")
    assert dispatch.rule == "zmm" and dispatch.flag is None and "target_clones" in dispatch.hint
    assert recommendations(profile, target="skylake-avx512").flags == ("-mprefer-vector-width=256",)
    assert len(recommendations(profile, target="sapphirerapids")) == 0
    assert "must have AVX-512" in recommendations(profile).notes[-1]


def test_no_mix_and_no_miss_events_means_no_advice():
    profile = mixed([{"function": "main", "object": "app", "file": "", "self_icount": 10}], [])
    result = recommendations(profile, target="icelake-server")
    assert len(result) == 0 and result.flags == ()
    assert any(note.startswith("not measured") for note in result.notes)
    with pytest.raises(ValueError, match="unknown -march target"):
        recommendations(profile, target="pentium9")
