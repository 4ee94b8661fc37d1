"""``-march`` targets and the instruction sets they enable (gcc 12 names), for flag advice.

Only what the advice needs: the widest vector registers a target has and whether gcc tunes it to
prefer 256-bit vectors (then ``-mprefer-vector-width=512`` is what turns zmm code on). A target not
listed here is refused rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

V2 = frozenset({"sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"})
V3 = V2 | {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe"}
V4 = V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
ICELAKE = V4 | {"avx512vnni", "avx512vbmi", "avx512vbmi2", "avx512ifma", "avx512bitalg", "avx512vpopcntdq"}


@dataclass(frozen=True)
class Target:
    name: str
    isa: frozenset[str]
    note: str = ""
    # gcc tunes these AVX-512 parts to prefer ymm code (X86_TUNE_AVX256_OPTIMAL) unless told otherwise.
    prefers_256: bool = False

    @property
    def avx512(self) -> bool:
        return "avx512f" in self.isa

    @property
    def avx2(self) -> bool:
        return "avx2" in self.isa

    @property
    def vector_bits(self) -> int:
        return 512 if self.avx512 else 256 if "avx" in self.isa else 128


TARGETS = {
    target.name: target
    for target in (
        Target("x86-64", frozenset({"sse", "sse2"}), "the default baseline: SSE2 only"),
        Target("x86-64-v2", V2, "Nehalem-class baseline"),
        Target("x86-64-v3", V3, "Haswell-class baseline (AVX2, FMA)"),
        Target("x86-64-v4", V4, "AVX-512 baseline (F, BW, CD, DQ, VL)"),
        Target("haswell", V3),
        Target("broadwell", V3 | {"adx", "rdseed"}),
        Target("skylake", V3 | {"adx", "rdseed", "clflushopt"}, "client Skylake: no AVX-512"),
        Target(
            "skylake-avx512",
            V4 | {"clwb"},
            "heavy 512-bit code lowers the clock on this part; measure before preferring zmm",
            prefers_256=True,
        ),
        Target("cascadelake", V4 | {"clwb", "avx512vnni"}, prefers_256=True),
        Target("icelake-server", ICELAKE | {"clwb", "vaes", "vpclmulqdq", "gfni"}, prefers_256=True),
        Target(
            "sapphirerapids",
            ICELAKE | {"clwb", "vaes", "vpclmulqdq", "gfni", "avx512bf16", "avx512fp16", "amx-tile"},
            prefers_256=True,
        ),
        Target("znver2", V3 | {"adx", "clzero", "sha"}),
        Target("znver3", V3 | {"adx", "clzero", "sha", "vaes", "vpclmulqdq"}),
        Target(
            "znver4",
            ICELAKE | {"avx512bf16", "vaes", "vpclmulqdq", "gfni"},
            "Zen 4 runs 512-bit operations as two 256-bit halves; needs gcc >= 12.3",
        ),
    )
}


def target_info(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        known = ", ".join(TARGETS)
        raise ValueError(f"unknown -march target {name!r}; known targets: {known}") from None
