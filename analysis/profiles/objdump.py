"""Reader for ``objdump -d`` output (binutils; notes in reference/profile-formats.md §1.5), the
instruction classifier shared with the SDE reader, and the join of callgrind instruction costs with
a disassembly.

The disassembly gives the static ISA view: which functions hold zmm/ymm/xmm code. Joined on address
with callgrind ``--dump-instr=yes`` costs it gives the dynamic view (executed instructions by register
class), which is what compiler-flag advice needs: vector code that never runs does not count.

Accepted: AT&T and ``-M intel`` syntax, with or without raw bytes (an instruction longer than seven
bytes wraps onto continuation lines holding only bytes: skipped), ``-l``/``-S`` source lines (ignored
once the first ``Disassembly of section`` is seen), ``(bad)`` and PLT stubs. One pass, line by line.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from analysis.profiles.model import (
    MIX_COLUMNS,
    VECTOR_WIDTH,
    Profile,
    ProfileFormatError,
    ProfileMeta,
    empty_mix,
    only_format_errors,
    read_lines,
)

FUNCTION_HEADER = re.compile(r"([0-9a-f]+) <(.*)>:\s*$")
INSTRUCTION = re.compile(r"\s+([0-9a-f]+):\t(.*)$")
RAW_BYTES = re.compile(r"(?:[0-9a-f]{2} )*[0-9a-f]{2} *$")
FILE_FORMAT = re.compile(r"(.*):\s+file format (\S+)\s*$")
VECTOR_REGISTER = re.compile(r"\b%?([xyz])mm(\d+)\b", re.IGNORECASE)
MEMORY_WIDTH = re.compile(r"\b([xyz])mmword\b", re.IGNORECASE)
EVEX_DECORATION = re.compile(r"\{%?k[0-7]\}|\{z\}|\{1to\d+\}|\{r[nduz]-sae\}|\{sae\}", re.IGNORECASE)
SCALAR_FP = re.compile(r"(?:ss|sd)[lqw]?$|^cvtt?s[sd]2")
# Instruction prefixes objdump prints as words before the mnemonic.
PREFIXES = frozenset(
    [
        "rep",
        "repz",
        "repe",
        "repnz",
        "repne",
        "lock",
        "notrack",
        "bnd",
        "data16",
        "data32",
        "addr32",
        "cs",
        "ds",
        "es",
        "fs",
        "gs",
        "ss",
        "rex",
        "rex.w",
        "xacquire",
        "xrelease",
        "{vex}",
        "{vex3}",
        "{evex}",
    ]
)
# VEX instructions that exist only from AVX2 on (besides integer ops on ymm and FMA).
AVX2_ONLY = re.compile(
    r"^v(?:pbroadcast|broadcasti128|inserti128|extracti128|perm2i128|permd|permq|permps|permpd|"
    r"pgather|gather|pmaskmov|psllv|psrlv|psrav|pblendd)"
)
HEX_DIGITS_AND_SPACE = "0123456789abcdef "
ISA_ORDER = ("AVX-512", "AVX2", "AVX", "SSE", "scalar")
INSTRUCTION_COLUMNS = (
    "function",
    "object",
    "address",
    "mnemonic",
    "operands",
    "register_class",
    "vector_width",
    "evex",
    "isa_ext",
)


# -- classification -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Classified:
    register_class: str
    vector_width: int
    evex: bool
    isa_ext: str


GENERAL_PURPOSE = Classified("scalar", 0, False, "BASE")


def classify(mnemonic: str, operands: str, raw: str = "") -> Classified:
    """Register class of one instruction (``model.REGISTER_CLASSES``), its EVEX-ness and ISA
    extension (SDE's names: AVX512EVEX, AVX2, FMA, AVX, SSE, BASE).

    Scalar SSE/AVX arithmetic on xmm (``movss``, ``vaddsd``, ``cvtsi2sd``) is ``scalar``: scalar
    FP code uses xmm registers without being vectorized. EVEX on xmm/ymm (AVX-512VL) keeps its width.
    """
    if "mm" not in operands and "MM" not in operands and "{" not in operands and not raw.startswith("62"):
        return GENERAL_PURPOSE  # most instructions: no vector register, no EVEX decoration
    mnemonic = mnemonic.lower()
    widths = {match.group(1).lower() for match in VECTOR_REGISTER.finditer(operands)}
    widths |= {match.group(1).lower() for match in MEMORY_WIDTH.finditer(operands)}
    register_class = _register_class(mnemonic, widths)
    evex = _is_evex(operands, raw, widths)
    return Classified(register_class, VECTOR_WIDTH[register_class], evex, _isa_ext(mnemonic, widths, evex))


def _register_class(mnemonic: str, widths: set[str]) -> str:
    if "z" in widths:
        return "zmm"
    if "y" in widths:
        return "ymm"
    if "x" in widths:
        return "scalar" if _is_scalar_fp(mnemonic) else "xmm"
    return "scalar"


def _is_scalar_fp(mnemonic: str) -> bool:
    bare = mnemonic[1:] if mnemonic.startswith("v") else mnemonic
    if bare.startswith("p") or "broadcast" in bare:  # pminsd, vbroadcastss: packed
        return False
    return bare in ("movd", "movq") or bool(SCALAR_FP.search(bare))


def _is_evex(operands: str, raw: str, widths: set[str]) -> bool:
    if "z" in widths or raw.startswith("62") or EVEX_DECORATION.search(operands):
        return True
    return any(int(match.group(2)) >= 16 for match in VECTOR_REGISTER.finditer(operands))


def _isa_ext(mnemonic: str, widths: set[str], evex: bool) -> str:
    if evex:
        return "AVX512EVEX"
    if not widths:
        return "BASE"
    if not mnemonic.startswith("v"):
        return "SSE"
    if mnemonic.startswith(("vfmadd", "vfmsub", "vfnmadd", "vfnmsub")):
        return "FMA"
    if AVX2_ONLY.match(mnemonic) or ("y" in widths and mnemonic.startswith("vp")):
        return "AVX2"
    return "AVX"


def split_instruction(text: str) -> tuple[str, str]:
    """``(mnemonic, operands)`` of objdump's instruction text: prefixes (``rep``, ``lock``,
    ``notrack`` …) are kept in front of the mnemonic, a trailing ``# comment`` is dropped."""
    hash_at = text.find("#")
    if hash_at >= 0:
        text = text[:hash_at]
    words = text.split()
    if not words:
        return "", ""
    start = 0
    while start < len(words) - 1 and words[start].lower() in PREFIXES:
        start += 1
    prefix = " ".join(words[:start])
    mnemonic = f"{prefix} {words[start]}" if prefix else words[start]
    return mnemonic, " ".join(words[start + 1 :])


def _bare_mnemonic(mnemonic: str) -> str:
    return mnemonic.rsplit(" ", 1)[-1]


# -- reader -------------------------------------------------------------------------------------


def sniff_objdump(head: str) -> bool:
    """True when the first lines look like ``objdump -d``."""
    return "Disassembly of section" in head and "file format" in head


def parse_objdump(source: str | Path | Iterable[str]) -> Profile:
    """Parse ``objdump -d`` output (a path, or an iterable of text lines)."""
    return read_lines(source, _Reader().parse)


class _Reader:
    def __init__(self) -> None:
        self.number = 0
        self.object = ""
        self.objects: list[str] = []
        self.function = ""
        self.in_section = False
        self.rows: list[tuple] = []

    @only_format_errors
    def parse(self, lines: Iterable[str]) -> Profile:
        self.read(lines)
        return self.profile()

    def read(self, lines: Iterable[str]) -> None:
        for self.number, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            match = INSTRUCTION.match(line)
            if match and self.in_section:
                self._instruction(match.group(1), match.group(2))
                continue
            self._other(line)
        if not self.rows:
            raise ProfileFormatError("no instructions: not objdump -d output", self.number)

    def _other(self, line: str) -> None:
        if line.startswith("Disassembly of section "):
            if not self.objects:
                raise ProfileFormatError("Disassembly of section before the file format line", self.number)
            self.in_section = True
            self.function = ""
            return
        header = FUNCTION_HEADER.match(line)
        if header and self.in_section:
            self.function = header.group(2)
            return
        file_format = FILE_FORMAT.match(line)
        if file_format:
            self.object = file_format.group(1).strip()
            self.objects.append(self.object)
            self.in_section = False
            return
        if line.startswith("In archive "):  # objdump -d lib.a: one object after the other
            return
        if not self.in_section:  # source lines (-l, -S) are only possible inside a section
            raise ProfileFormatError(f"not objdump -d output: {line.strip()[:60]!r}", self.number)

    def _instruction(self, address: str, rest: str) -> None:
        tab = rest.find("\t")
        head = rest if tab < 0 else rest[:tab]
        raw = ""
        text = rest
        if not head.strip(HEX_DIGITS_AND_SPACE) and RAW_BYTES.fullmatch(head):
            if tab < 0:
                return  # continuation of a long instruction: bytes only
            raw, text = head.strip(), rest[tab + 1 :]
        if not self.function:
            raise ProfileFormatError("instruction before any function header", self.number)
        mnemonic, operands = split_instruction(text)
        if not mnemonic:
            raise ProfileFormatError("instruction without a mnemonic", self.number)
        kind = classify(_bare_mnemonic(mnemonic), operands, raw)
        self.rows.append(
            (
                self.function,
                self.object,
                int(address, 16),
                mnemonic,
                operands,
                kind.register_class,
                kind.vector_width,
                kind.evex,
                kind.isa_ext,
            )
        )

    def profile(self) -> Profile:
        instructions = pd.DataFrame(self.rows, columns=list(INSTRUCTION_COLUMNS))
        instructions = instructions.astype({"address": "int64", "vector_width": "int64", "evex": "bool"})
        self.rows = []
        meta = ProfileMeta(
            tool="objdump",
            command=" ".join(dict.fromkeys(self.objects)),
            events=(),
            totals={},
            positions=("instr",),
        )
        return Profile(
            meta=meta,
            functions=_functions(instructions),
            lines=pd.DataFrame(
                {
                    "function": pd.Series(dtype="object"),
                    "object": pd.Series(dtype="object"),
                    "file": pd.Series(dtype="object"),
                    "line": pd.Series(dtype="int64"),
                }
            ),
            instructions=instructions,
            calls=pd.DataFrame(
                {
                    name: pd.Series(dtype="int64" if name == "calls" else "object")
                    for name in ("caller", "caller_object", "callee", "callee_object", "calls")
                }
            ),
            mix=static_mix(instructions),
        )


def _functions(instructions: pd.DataFrame) -> pd.DataFrame:
    keys = instructions[["function", "object"]].drop_duplicates().reset_index(drop=True)
    return keys.assign(file="")


# -- mixes --------------------------------------------------------------------------------------


def static_mix(instructions: pd.DataFrame) -> pd.DataFrame:
    """Instructions in the binary by register class, mnemonic and ISA extension, per function
    and for the whole program (function and object ``""``)."""
    return _mix(instructions, None, "static")


def _mix(instructions: pd.DataFrame, weight: str | None, basis: str) -> pd.DataFrame:
    """One histogram per key type; ``weight`` is the cost column counted (None: one per row)."""
    frames = []
    data = instructions.assign(_w=1 if weight is None else instructions[weight])
    data = data.assign(iclass=data["mnemonic"].map(_bare_mnemonic, na_action="ignore"))
    for key_type, column in (
        ("register_class", "register_class"),
        ("iclass", "iclass"),
        ("isa_ext", "isa_ext"),
    ):
        per_function = data.groupby(["function", "object", column], as_index=False, sort=True)["_w"].sum()
        whole = data.groupby(column, as_index=False, sort=True)["_w"].sum().assign(function="", object="")
        for frame in (per_function, whole):
            frames.append(
                frame.rename(columns={column: "key", "_w": "count"}).assign(key_type=key_type, basis=basis)
            )
    mix = pd.concat([empty_mix(), *frames], ignore_index=True)[list(MIX_COLUMNS)]
    return mix.astype({"count": "int64"})


def function_isa(mix: pd.DataFrame) -> pd.DataFrame:
    """Highest ISA each function uses (``function, object, isa``), from a mix table's
    ``isa_ext`` and ``register_class`` rows (objdump static or SDE/join dynamic).

    AVX-512 when any EVEX instruction or zmm register is used, AVX2 for AVX2 or FMA instructions,
    AVX for other VEX code, SSE for packed xmm work, scalar otherwise (scalar SSE arithmetic on
    xmm, as x86-64 compilers emit for plain float code, is scalar).
    """
    if mix.empty:
        return pd.DataFrame({"function": [], "object": [], "isa": []}, dtype="object")
    rows = mix[mix["count"] > 0]
    used = rows.groupby(["function", "object"])[["key_type", "key"]].apply(
        lambda group: frozenset(zip(group["key_type"], group["key"], strict=True))
    )
    frame = used.rename("keys").reset_index()
    frame["isa"] = frame["keys"].map(_highest_isa)
    return frame[["function", "object", "isa"]]


def _highest_isa(keys: frozenset[tuple[str, str]]) -> str:
    exts = {key.upper() for kind, key in keys if kind == "isa_ext"}
    classes = {key for kind, key in keys if kind == "register_class"}
    if "zmm" in classes or any(ext.startswith("AVX512") for ext in exts):
        return "AVX-512"
    if exts & {"AVX2", "FMA", "AVX2GATHER"}:
        return "AVX2"
    if "AVX" in exts or "ymm" in classes:
        return "AVX"
    if "xmm" in classes:
        return "SSE"
    return "scalar"


# -- join with callgrind instruction costs ------------------------------------------------------


def join_disassembly(profile: Profile, disassembly: Profile) -> Profile:
    """Fill ``profile.instructions``' mnemonic, operands, register class and vector width from a
    disassembly, and add the dynamic mix (instructions executed per register class, mnemonic and
    ISA extension; per function and whole program) to ``profile.mix``.

    Addresses are object-relative for PIE binaries in both callgrind and objdump, so they are
    matched as they are; objects match by basename when the names differ (``/tmp/x/hot`` vs
    ``hot``). Instructions the disassembly lacks (other libraries) count under key ``unknown``.
    """
    event = profile.meta.event_for("instructions")
    if event is None:
        raise ProfileFormatError("the profile has no instruction counts (Ir) to join", 0)
    costs = profile.instructions
    if costs.empty:
        note = "no per-instruction costs (callgrind --dump-instr=yes): no dynamic mix from the disassembly"
        return dataclasses.replace(
            profile, meta=dataclasses.replace(profile.meta, notes=(*profile.meta.notes, note))
        )
    known = disassembly.instructions
    mapping = _object_mapping(costs["object"].unique(), known["object"].unique())
    keyed = costs.assign(_object=costs["object"].map(mapping))
    detail = known.rename(columns={"object": "_object"}).drop(columns=["function"])
    detail = detail.drop_duplicates(["_object", "address"])
    base = keyed.drop(
        columns=[c for c in detail.columns if c in keyed.columns and c not in ("_object", "address")]
    )
    joined = base.merge(detail, on=["_object", "address"], how="left", validate="many_to_one")
    missing = joined["register_class"].isna()
    joined.loc[missing, ["register_class", "isa_ext"]] = "unknown"
    joined["vector_width"] = joined["vector_width"].astype("Int64")
    joined["evex"] = joined["evex"].astype("boolean")
    instructions = joined.drop(columns=["_object"])
    weighted = instructions.assign(mnemonic=instructions["mnemonic"].fillna("unknown"))
    mix = pd.concat([profile.mix, _mix(weighted, event, "dynamic")], ignore_index=True)
    notes = profile.meta.notes + _join_notes(instructions, missing, event)
    return dataclasses.replace(
        profile,
        instructions=instructions,
        mix=mix.astype({"count": "int64"}),
        meta=dataclasses.replace(profile.meta, notes=notes),
    )


def _object_mapping(profiled: Iterable[str], disassembled: Iterable[str]) -> dict[str, str | None]:
    disassembled = list(disassembled)
    by_base = {posixpath.basename(name): name for name in disassembled}
    mapping: dict[str, str | None] = {}
    for name in profiled:
        if name in disassembled:
            mapping[name] = name
        else:
            mapping[name] = by_base.get(posixpath.basename(name))
    return mapping


def _join_notes(instructions: pd.DataFrame, missing: pd.Series, event: str) -> tuple[str, ...]:
    if not missing.any():
        return ()
    lost = instructions[missing]
    objects = Counter(posixpath.basename(name) for name in lost["object"])
    names = ", ".join(name for name, _ in objects.most_common(5))
    return (
        f"{len(lost)} instructions ({int(lost[event].sum())} {event}) are not in the disassembly "
        f"and count as 'unknown' (objects: {names})",
    )
