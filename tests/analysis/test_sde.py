"""The Intel SDE -mix reader on an excerpt of a real file (thread 0 of a gapbs run, SDE 9.24: its top
blocks, opcode histogram, function table and two per-function histograms) and on small
multi-thread files written here. The expected figures are the numbers printed in the excerpt."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.profiles.callgrind import ProfileFormatError
from analysis.profiles.model import describe_event
from analysis.profiles.objdump import function_isa
from analysis.profiles.sde import parse_sde_mix, sniff_sde_mix

SAMPLE = Path(__file__).resolve().parent / "samples" / "sde-mix-out.gapbs-tid0.txt"
GOMP = "/lib/x86_64-linux-gnu/libgomp.so.1"
LD = "/lib64/ld-linux-x86-64.so.2"
CC = "/mnt/A/Champsim2/tracer/pin/gapbs-exp/cc"
MAP_OPERATOR = (
    "std::__detail::_Map_base<int, std::pair<int const, int>, std::allocator<std::pair<int const, int> >"
)


@pytest.fixture(scope="module")
def profile():
    return parse_sde_mix(SAMPLE)


def _mix(profile, function, key_type):
    rows = profile.mix[(profile.mix.function == function) & (profile.mix.key_type == key_type)]
    return dict(zip(rows.key, rows["count"], strict=True))


def test_function_totals_and_call_counts_are_the_files(profile):
    functions = profile.functions.set_index("function")
    assert functions.loc["omp_get_num_procs", "self_icount"] == 6657870
    assert functions.loc["omp_get_num_procs", "object"] == GOMP
    assert functions.loc["_dl_lookup_symbol_x", "calls"] == 2327
    assert functions.loc["strcmp", "self_icount"] == functions.loc["strcmp", "incl_icount"] == 108492
    assert functions.loc["SampleFrequentElement(pvector<int> const&, long) (.constprop.0)", "calls"] == 16
    assert functions.loc["_IO_file_xsputn", "address"] == 0x7F6BD76745D0
    assert len(functions) == 17
    assert profile.functions.self_icount.is_monotonic_decreasing


def test_the_global_total_and_register_classes_come_from_the_histogram(profile):
    assert profile.meta.tool == "sde"
    assert profile.meta.totals == {"icount": 12036391}
    assert profile.meta.event("icount") == describe_event("icount")
    assert profile.meta.event_for("instructions") == "icount"
    whole = _mix(profile, "", "register_class")
    # *avx256 1803; *avx128 890 + *sse-packed 65898; scalar is the rest of *total 12036391.
    assert whole == {"ymm": 1803, "xmm": 890 + 65898, "scalar": 12036391 - 1803 - 890 - 65898}
    assert _mix(profile, "", "isa_ext")["AVX2"] == 1090
    assert _mix(profile, "", "mem_size")["read-1"] == 159447
    assert _mix(profile, "", "category")["SSE"] == 36750
    assert sum(_mix(profile, "", "iclass").values()) == 12036391
    assert any("thread" in note for note in profile.meta.notes)


def test_per_function_histograms_become_dynamic_mix_rows(profile):
    omp = _mix(profile, "omp_get_num_procs", "iclass")
    assert omp["PAUSE"] == 949479 and omp["MOV"] == 952776
    assert _mix(profile, "omp_get_num_procs", "register_class") == {"scalar": 6657870}
    assert _mix(profile, "omp_get_num_procs", "mem_size") == {
        "read-4": 950710,
        "read-8": 1932,
        "write-4": 394,
        "write-8": 710,
    }
    lookup = _mix(profile, "_dl_lookup_symbol_x", "register_class")
    assert lookup == {"xmm": 4654, "scalar": 1089307 - 4654}
    assert set(profile.mix.basis) == {"dynamic"}
    isa = function_isa(profile.mix).set_index("function")["isa"]
    assert isa["omp_get_num_procs"] == "scalar" and isa["_dl_lookup_symbol_x"] == "SSE"


def test_top_blocks_and_their_disassembly(profile):
    blocks = profile.blocks.set_index("address")
    first = blocks.loc[0x7F6BD78993C8]
    assert (first.function, first.object, first.executions, first.icount) == (
        "omp_get_num_procs",
        GOMP,
        869488,
        3477952,
    )
    assert first.instructions == 4
    hashed = blocks.loc[0x563C1AC40BB0]
    assert hashed.function.startswith(MAP_OPERATOR) and hashed.instructions == 360448 // 16384
    instructions = profile.instructions.set_index("address")
    pause = instructions.loc[0x7F6BD78993C8]
    assert (pause.mnemonic, pause.isa_ext, pause.icount, pause.register_class) == (
        "pause",
        "PAUSE",
        869488,
        "scalar",
    )
    load = instructions.loc[0x7F6BD78993D3]
    assert (load.mnemonic, load.operands) == ("mov", "ecx, dword ptr [rbx]")
    assert len(profile.instructions) == profile.blocks.instructions.sum()


HEADER = "# Mix output version 10\n# Intel(R) SDE version: 9.24.0 external\n"


def _thread(tid, *, pc="0000000000401000", icount=40, executions=10, vaddps=10, mov=30, calls=3):
    block = (
        f"BLOCK:     0   PC: {pc}   ICOUNT: {icount}   EXECUTIONS: {executions}   #BYTES: 12   %:  50"
        "   cumltv%:  50  FN: kernel, v2 (x)  IMG: /bin/app  OFFSET: 1000"
    )
    return f"""# EMIT_TOP_BLOCK_STATS FOR TID {tid}  OS-TID 9{tid} EMIT # 1 EVENT=ICOUNT
{block}
XDIS 0000000000401000: AVX 62F17C48580C06           vaddps ymm1, ymm2, ymmword ptr [rsi]
XDIS 0000000000401006: BASE 4889C8                  mov rax, rcx
XDIS 0000000000401009: BASE 4883C001                add rax, 0x1
XDIS 000000000040100d: BASE 75F1                    jnz 0x401000

# END_TOP_BLOCK_STATS
# EMIT_DYNAMIC_STATS FOR TID {tid}  OS-TID 9{tid} EMIT #1
# $dynamic-counts
*isa-ext-AVX {vaddps}
*avx256 {vaddps}
VADDPS {vaddps}
MOV {mov}
*total {vaddps + mov}
# END_DYNAMIC_STATS
# FUNCTION TOTALS FOR TID {tid}  OS-TID 9{tid}
#rank total-icount     %   cumulative%   #times-called    address  function-name    image-name
   0:      {vaddps + mov}  100.0  100.0   {calls}    401000 kernel, v2 (x)  IMG: /bin/app
             {vaddps + mov} TOTAL
# END FUNCTION TOTALS
# EMIT_PER_FUNCTION_STATS FOR TID {tid}  OS-TID 9{tid} EMIT# 1
# $dynamic-counts-for-function: kernel, v2 (x)  IMG: /bin/app at [0x401000, 0x401010)  100.0%
*avx256 {vaddps}
VADDPS {vaddps}
MOV {mov}
*total {vaddps + mov}
# END_PER_FUNCTION_STATS
"""


def test_threads_are_summed_when_the_file_has_no_global_sections():
    text = HEADER + _thread(0) + _thread(1, vaddps=5, mov=7, calls=2, icount=8, executions=2)
    profile = parse_sde_mix(text.splitlines(keepends=True))
    assert profile.meta.totals == {"icount": 52}
    function = profile.functions.iloc[0]
    assert (function.function, function.self_icount, function.calls) == ("kernel, v2 (x)", 52, 5)
    assert _mix(profile, "kernel, v2 (x)", "register_class") == {"ymm": 15, "scalar": 37}
    block = profile.blocks.iloc[0]
    assert (block.executions, block.icount, block.instructions) == (12, 48, 4)
    vaddps = profile.instructions.iloc[0]
    assert (vaddps.icount, vaddps.register_class, vaddps.vector_width, vaddps.evex) == (12, "ymm", 256, True)


def test_global_sections_are_taken_as_written():
    glob = """# EMIT_GLOBAL_DYNAMIC_STATS
# $dynamic-counts
*total 0
# END_DYNAMIC_STATS
#GLOBAL FUNCTION TOTALS
#rank total-icount     %   cumulative%   #times-called    address  function-name    image-name
   0:      100  100.0  100.0   9    401000 kernel, v2 (x)  IMG: /bin/app
             100 TOTAL
# END FUNCTION TOTALS
# EMIT_STATIC_STATS
# $static-counts
*total 0
# END_STATIC_STATS
# EMIT_GLOBAL_DYNAMIC_STATS   EMIT# 8
# $global-dynamic-counts
*avx256 20
VADDPS 20
MOV 80
*total 100
# END_GLOBAL_DYNAMIC_STATS
"""
    profile = parse_sde_mix((HEADER + _thread(0) + glob).splitlines(keepends=True))
    assert profile.meta.totals == {"icount": 100}
    assert profile.functions.set_index("function").loc["kernel, v2 (x)", "calls"] == 9
    assert _mix(profile, "", "register_class") == {"ymm": 20, "scalar": 80}


@pytest.mark.parametrize(
    ("mangle", "needle"),
    [
        (lambda text: text.replace("MOV 30", "MOV 31", 1), "sum to"),
        (lambda text: text.split("# END FUNCTION TOTALS")[0], "never ends"),
        (lambda text: text.replace("   0:      40", "   0:      4x", 1), "malformed function total"),
        (lambda text: text.replace("MOV 30", "MOV -30", 1), "negative"),
        (lambda text: text.replace("*avx256 10", "*avx256 99", 1), "vector groups"),
        (lambda text: text.replace("XDIS", "XDIZ", 1), "malformed BLOCK"),
        (lambda text: text.replace("             40 TOTAL", "             41 TOTAL", 1), "TOTAL"),
        (lambda text: text[text.index("#", 3) :], "not an SDE mix file"),
    ],
)
def test_broken_files_raise_format_errors_at_their_line(mangle, needle):
    text = mangle(HEADER + _thread(0))
    with pytest.raises(ProfileFormatError) as raised:
        parse_sde_mix(text.splitlines(keepends=True))
    assert needle in raised.value.message
    assert 0 < raised.value.line_number <= len(text.splitlines())


def test_the_excerpt_cut_short_is_refused_and_sniffing_looks_at_the_header():
    lines = SAMPLE.read_text().splitlines(keepends=True)
    with pytest.raises(ProfileFormatError, match="truncated|never ends"):
        parse_sde_mix(lines[:300])
    assert sniff_sde_mix("".join(lines[:5]))
    assert not sniff_sde_mix("# callgrind format\nevents: Ir\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=20))
def test_garbage_only_ever_raises_a_format_error(lines):
    try:
        profile = parse_sde_mix([HEADER, *lines])
    except ProfileFormatError as error:
        assert error.line_number >= 0
    else:
        assert profile.meta.tool == "sde"
