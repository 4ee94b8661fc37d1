"""The objdump reader and the callgrind × objdump join against real tools: a C program with one
AVX-512, one AVX2+FMA, one SSE saxpy and a scalar pointer chase is compiled with gcc, disassembled
with objdump (AT&T with and without raw bytes, Intel syntax, source interleaved) and run under
callgrind. The AVX-512 kernel is only disassembled: main dispatches on the CPU, and neither this
machine nor valgrind runs EVEX code."""

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.profiles.callgrind import ProfileFormatError, parse_callgrind
from analysis.profiles.objdump import (
    classify,
    function_isa,
    join_disassembly,
    parse_objdump,
    sniff_objdump,
    split_instruction,
)

SAXPY = """
void saxpy_{name}(float *restrict y, const float *restrict x, float a, int n) {{
    for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}}
"""

MAIN_C = r"""
#include <stdio.h>
#include <stdlib.h>
void saxpy_avx512(float *restrict, const float *restrict, float, int);
void saxpy_avx2(float *restrict, const float *restrict, float, int);
void saxpy_sse(float *restrict, const float *restrict, float, int);
struct node { struct node *next; long pad[7]; };

__attribute__((noinline)) long chase_pointers(struct node *p, long steps) {
    long n = 0;
    while (steps-- > 0) { p = p->next; n += (long)p & 1; }
    return n;
}

int main(int argc, char **argv) {
    int n = 4096, reps = atoi(argv[1]), nodes = 1024;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (int i = 0; i < n; i++) { x[i] = (float)i; y[i] = 1.0f; }
    struct node *list = malloc(nodes * sizeof *list);
    for (int i = 0; i < nodes; i++) list[i].next = &list[(i * 7 + 1) % nodes];
    for (int r = 0; r < reps; r++) {
        if (__builtin_cpu_supports("avx512f")) saxpy_avx512(y, x, 0.5f, n);
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) saxpy_avx2(y, x, 0.5f, n);
        saxpy_sse(y, x, 0.25f, n);
    }
    printf("%f %ld\n", y[10], chase_pointers(list, 100000));
    return 0;
}
"""

KERNELS = {"avx512": ["-mavx512f"], "avx2": ["-mavx2", "-mfma"], "sse": []}
OBJDUMP_VARIANTS = {
    "raw": ["-d"],
    "no_raw": ["-d", "--no-show-raw-insn"],
    "intel": ["-d", "-M", "intel"],
    "source": ["-d", "-S", "-l"],
}
FUNCTIONS = ("saxpy_avx512", "saxpy_avx2", "saxpy_sse", "chase_pointers")


def _cpu_has_avx2() -> bool:
    flags = Path("/proc/cpuinfo").read_text()
    return " avx2 " in flags and " fma " in flags


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("isa")
    objects = []
    for name, flags in KERNELS.items():
        (root / f"k_{name}.c").write_text(SAXPY.format(name=name))
        subprocess.run(["gcc", "-O3", "-g", *flags, "-c", f"k_{name}.c"], cwd=root, check=True)
        objects.append(f"k_{name}.o")
    (root / "main.c").write_text(MAIN_C)
    subprocess.run(["gcc", "-O1", "-g", "-o", "hot", "main.c", *objects], cwd=root, check=True)
    outputs = {}
    for variant, args in OBJDUMP_VARIANTS.items():
        text = subprocess.run(["objdump", *args, "hot"], cwd=root, check=True, capture_output=True, text=True)
        (root / f"{variant}.txt").write_text(text.stdout)
        outputs[variant] = root / f"{variant}.txt"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--dump-instr=yes",
            "--callgrind-out-file=callgrind.out",
            "./hot",
            "20",
        ],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return root, outputs


def _function_lines(text: str, function: str) -> list[str]:
    """The instruction lines of one function, the way a person would cut them out."""
    block = text.split(f"<{function}>:\n", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines() if re.match(r"\s+[0-9a-f]+:\t", line)]


def _register_counts(profile, function):
    mix = profile.mix
    rows = mix[(mix.function == function) & (mix.key_type == "register_class") & (mix.basis == "static")]
    return dict(zip(rows.key, rows["count"], strict=True))


@pytest.mark.parametrize("variant", ["raw", "no_raw"])
def test_zmm_and_ymm_counts_per_function_match_a_grep_of_the_disassembly(build, variant):
    _, outputs = build
    text = outputs["no_raw"].read_text()
    profile = parse_objdump(outputs[variant])
    for function in FUNCTIONS:
        lines = _function_lines(text, function)
        counts = _register_counts(profile, function)
        zmm = sum("%zmm" in line for line in lines)
        ymm = sum("%ymm" in line and "%zmm" not in line for line in lines)
        assert counts.get("zmm", 0) == zmm, function
        assert counts.get("ymm", 0) == ymm, function
        assert sum(counts.values()) == len(lines), function
    assert _register_counts(profile, "saxpy_avx512")["zmm"] > 0
    assert _register_counts(profile, "saxpy_avx2")["ymm"] > 0


def test_packed_sse_is_xmm_and_scalar_sse_and_the_pointer_chase_are_scalar(build):
    _, outputs = build
    text = outputs["no_raw"].read_text()
    profile = parse_objdump(outputs["raw"])
    packed = [line for line in _function_lines(text, "saxpy_sse") if re.search(r"\t\w+p[sd] .*%xmm", line)]
    counts = _register_counts(profile, "saxpy_sse")
    assert counts["xmm"] >= len(packed) > 0
    assert set(_register_counts(profile, "chase_pointers")) == {"scalar"}
    movss = profile.instructions[profile.instructions.mnemonic.isin(["vmovss", "movss"])]
    assert len(movss) > 0 and set(movss.register_class) == {"scalar"}


def test_syntax_and_source_interleaving_do_not_change_the_mix(build):
    _, outputs = build
    mixes = {variant: parse_objdump(path).mix for variant, path in outputs.items()}
    reference = mixes["raw"][mixes["raw"].key_type == "register_class"].reset_index(drop=True)
    for variant, mix in mixes.items():
        assert mix[mix.key_type == "register_class"].reset_index(drop=True).equals(reference), variant
    intel = parse_objdump(outputs["intel"]).instructions
    fma = intel[intel.mnemonic == "vfmadd213ps"]
    assert set(fma.register_class) >= {"zmm"} and fma.evex[fma.register_class == "zmm"].all()


def test_whole_program_mix_counts_every_instruction_and_plt_stubs_are_functions(build):
    _, outputs = build
    text = outputs["raw"].read_text()
    profile = parse_objdump(outputs["raw"])
    wrapped = sum(
        1 for line in text.splitlines() if re.fullmatch(r"\s+[0-9a-f]+:\t(?:[0-9a-f]{2} ?)+\s*", line)
    )
    instruction_lines = sum(1 for line in text.splitlines() if re.match(r"\s+[0-9a-f]+:\t", line))
    whole = profile.mix[(profile.mix.function == "") & (profile.mix.key_type == "register_class")]
    assert whole["count"].sum() == len(profile.instructions) == instruction_lines - wrapped
    assert profile.meta.tool == "objdump" and profile.meta.events == ()
    assert any(name.endswith("@plt") for name in profile.functions.function)
    iclass = profile.mix[(profile.mix.function == "saxpy_avx512") & (profile.mix.key_type == "iclass")]
    assert dict(zip(iclass.key, iclass["count"], strict=True))["vfmadd213ps"] >= 1


def test_function_isa_ranks_the_kernels(build):
    _, outputs = build
    isa = function_isa(parse_objdump(outputs["raw"]).mix).set_index("function")["isa"]
    assert isa["saxpy_avx512"] == "AVX-512"
    assert isa["saxpy_avx2"] == "AVX2"
    assert isa["saxpy_sse"] == "SSE"
    assert isa["chase_pointers"] == "scalar"


@pytest.mark.parametrize(
    ("text", "register_class", "evex"),
    [
        ("vaddps %ymm1,%ymm0,%ymm2{%k1}", "ymm", True),
        ("vaddps (%rdi){1to8},%ymm0,%ymm2", "ymm", True),
        ("vmovaps %xmm17,%xmm1", "xmm", True),
        ("vaddps %ymm1,%ymm0,%ymm2", "ymm", False),
        ("addss %xmm1,%xmm0", "scalar", False),
        ("vmulsd %xmm2,%xmm1,%xmm0", "scalar", False),
        ("cvtsi2sdl %eax,%xmm0", "scalar", False),
        ("pminsd %xmm1,%xmm0", "xmm", False),
        ("vbroadcastss %xmm0,%xmm1", "xmm", False),
        ("vmovups zmm1,ZMMWORD PTR [rsi+rax*1]", "zmm", True),
        ("rep stos %rax,%es:(%rdi)", "scalar", False),
    ],
)
def test_classifier_cases(text, register_class, evex):
    mnemonic, operands = split_instruction(text)
    kind = classify(mnemonic.split()[-1], operands)
    assert (kind.register_class, kind.evex) == (register_class, evex)


def test_raw_bytes_starting_62_are_evex():
    text = (
        "t.o:     file format elf64-x86-64\n\nDisassembly of section .text:\n\n0000000000000000 <f>:\n"
        "   0:\t62 f1 7c 29 58 d1    \tvaddps %ymm1,%ymm0,%ymm2\n"
        "   6:\t48 8b 84 24 00 01 00 \tmov    0x100(%rsp),%rax\n"
        "   d:\t00 \n"
        "   e:\t(bad)\n"
    )
    profile = parse_objdump(text.splitlines(keepends=True))
    assert list(profile.instructions.evex) == [True, False, False]
    assert list(profile.instructions.mnemonic) == ["vaddps", "mov", "(bad)"]
    assert sniff_objdump(text) and not sniff_objdump("# callgrind format\n")


def test_join_accounts_for_every_ir_of_the_run(build):
    root, outputs = build
    profile = parse_callgrind(root / "callgrind.out")
    joined = join_disassembly(profile, parse_objdump(outputs["raw"]))
    mix = joined.mix[(joined.mix.basis == "dynamic") & (joined.mix.key_type == "register_class")]
    assert mix[mix.function == ""]["count"].sum() == profile.meta.totals["Ir"]
    hot = joined.instructions[joined.instructions.object.str.endswith("/hot")]
    assert hot.register_class.ne("unknown").all()
    assert mix[mix.object.str.endswith("/hot")]["count"].sum() == hot.Ir.sum() > 0
    chase = mix[mix.function == "chase_pointers"].set_index("key")["count"]
    assert set(chase.index) == {"scalar"} and chase["scalar"] > 100000
    assert "zmm" not in set(mix.key)  # the AVX-512 kernel never ran
    assert any("not in the disassembly" in note for note in joined.meta.notes)
    assert len(joined.instructions) == len(profile.instructions)


@pytest.mark.skipif(not _cpu_has_avx2(), reason="main runs the AVX2 kernel only on an AVX2+FMA CPU")
def test_join_finds_ymm_executed_in_saxpy_avx2(build):
    root, outputs = build
    joined = join_disassembly(parse_callgrind(root / "callgrind.out"), parse_objdump(outputs["raw"]))
    mix = joined.mix[(joined.mix.basis == "dynamic") & (joined.mix.key_type == "register_class")]
    avx2 = mix[mix.function == "saxpy_avx2"].set_index("key")["count"]
    assert avx2["ymm"] / avx2.sum() > 0.3
    widths = joined.instructions[joined.instructions.function == "saxpy_avx2"].vector_width.dropna()
    assert 256 in set(widths)


def test_wrong_format_and_truncated_input_raise_format_errors(build):
    _, outputs = build
    with pytest.raises(ProfileFormatError):
        parse_objdump(["# callgrind format\n", "events: Ir\n"])
    with pytest.raises(ProfileFormatError):
        parse_objdump(["hot:     file format elf64-x86-64\n", "\n"])
    head = outputs["raw"].read_text().splitlines(keepends=True)[:6]
    with pytest.raises(ProfileFormatError):
        parse_objdump(head)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=80), max_size=20), st.booleans())
def test_garbage_only_ever_raises_a_format_error(lines, with_header):
    if with_header:
        lines = ["x:     file format elf64-x86-64\n", "Disassembly of section .text:\n", *lines]
    try:
        profile = parse_objdump(lines)
    except ProfileFormatError as error:
        assert error.line_number >= 0
    else:
        assert len(profile.instructions) > 0


def test_an_archive_listing_names_each_member_object():
    text = (
        "In archive libk.a:\n\nk1.o:     file format elf64-x86-64\n\n\nDisassembly of section .text:\n\n"
        "0000000000000000 <f>:\n   0:\tc5 fc 58 c1          \tvaddps %ymm1,%ymm0,%ymm0\n\n"
        "k2.o:     file format elf64-x86-64\n\n\nDisassembly of section .text:\n\n"
        "0000000000000000 <g>:\n   0:\tc3                   \tret\n"
    )
    profile = parse_objdump(text.splitlines(keepends=True))
    assert profile.functions[["function", "object"]].values.tolist() == [["f", "k1.o"], ["g", "k2.o"]]
    assert function_isa(profile.mix).set_index("function")["isa"].to_dict() == {
        "": "AVX",
        "f": "AVX",
        "g": "scalar",
    }


def test_a_profile_without_instruction_costs_gets_a_note_instead_of_a_mix(build, tmp_path):
    _, outputs = build
    path = tmp_path / "callgrind.out"
    path.write_text("# callgrind format\nevents: Ir\nfl=a.c\nfn=main\n3 10\ntotals: 10\n")
    profile = parse_callgrind(path)
    joined = join_disassembly(profile, parse_objdump(outputs["raw"]))
    assert joined.mix.empty and joined.functions.equals(profile.functions)
    assert any("--dump-instr=yes" in note for note in joined.meta.notes)
