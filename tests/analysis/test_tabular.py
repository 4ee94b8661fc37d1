"""The Runyard tabular profile (docs/profile-format.md): a real callgrind profile written out and read
back gives the same tables in CSV and in Parquet; a simulator-style export carries cycles and TLB
misses; malformed archives are refused with the member and line."""

import io
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.profiles.callgrind import ProfileFormatError, parse_callgrind
from analysis.profiles.sde import parse_sde_mix
from analysis.profiles.tabular import parse_tabular, sniff_tabular, write_tabular

SAMPLES = Path(__file__).resolve().parent / "samples"
PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) long walk(long *a, long n) {
    long s = 0;
    for (long i = 0; i < n; i++) s += a[(i * 4099) % n];
    return s;
}
__attribute__((noinline)) long fill(long *a, long n) {
    for (long i = 0; i < n; i++) a[i] = i ^ (i >> 3);
    return n;
}
int main(void) {
    long n = 50000, *a = malloc(n * sizeof *a);
    long s = fill(a, n) + walk(a, n) + walk(a, n);
    printf("%ld\n", s);
    return 0;
}
"""

HEADER = "runyard-profile 1\n"
FUNCTIONS = """function,object,file,instructions,cycles,dtlb_miss,incl_instructions,incl_cycles,incl_dtlb_miss
main,app,main.c,1200,3000,2,981200,2903000,1102
saxpy,app,kern.c,480000,900000,100,480000,900000,100
"chase, the list",app,kern.c,500000,2000000,1000,500000,2000000,1000
"""
EVENTS = """name,canonical,kind,unit,label
cycles,cycles,simulated,count,Core cycles (ISS model)
"""
META = """key,value
tool,intel-iss
creator,ISS 2024.1
kind,simulated
note,cache model: 32 KiB L1D
"""
LINES = """function,object,file,line,instructions,cycles
"chase, the list",app,kern.c,12,400000,1900000
"""
MEMORY = """function,object,file,line,address,dtlb_miss
"chase, the list",app,kern.c,12,,990
"chase, the list",app,,,0x1134,1000
"""
INSTRUCTIONS = """function,object,address,instructions,mnemonic,operands,register_class,vector_width
saxpy,app,0x2518,120000,vfmadd213ps,"(%rdi,%rax,1),%ymm2,%ymm1",ymm,256
"chase, the list",app,4404,100000,mov,"(%rax),%rax",scalar,0
"""
BLOCKS = """function,object,address,instructions,executions,cycles
"chase, the list",app,0x1130,4,100000,2000000
"""
CALLS = """caller,caller_object,callee,callee_object,calls,instructions,cycles,dtlb_miss
main,app,"chase, the list",app,1,500000,2000000,1000
main,app,saxpy,app,4,480000,900000,100
"""


def _archive(path: Path, members: dict[str, str | bytes], *, header: str = HEADER) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        if header is not None:
            archive.writestr(zipfile.ZipInfo("RUNYARD-PROFILE"), header)
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def _simulator_export(tmp_path, **overrides):
    members = {
        "meta.csv": META,
        "events.csv": EVENTS,
        "functions.csv": FUNCTIONS,
        "lines.csv": LINES,
        "memory.csv": MEMORY,
        "instructions.csv": INSTRUCTIONS,
        "blocks.csv": BLOCKS,
        "calls.csv": CALLS,
    }
    members.update(overrides)
    return _archive(tmp_path / "iss.runyard.zip", {k: v for k, v in members.items() if v is not None})


@pytest.fixture(scope="module")
def callgrind_profile(tmp_path_factory):
    root = tmp_path_factory.mktemp("roundtrip")
    (root / "walk.c").write_text(PROGRAM)
    subprocess.run(["gcc", "-O1", "-g", "-o", "walk", "walk.c"], cwd=root, check=True)
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--cache-sim=yes",
            "--branch-sim=yes",
            "--dump-instr=yes",
            "--callgrind-out-file=callgrind.out",
            "./walk",
        ],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return parse_callgrind(root / "callgrind.out")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_callgrind_profile_written_and_read_back_gives_the_same_tables(callgrind_profile, tmp_path, fmt):
    path = tmp_path / f"profile.{fmt}.zip"
    write_tabular(callgrind_profile, path, format=fmt)
    again = parse_tabular(path)
    for table in ("functions", "lines", "instructions", "calls"):
        pd.testing.assert_frame_equal(getattr(again, table), getattr(callgrind_profile, table), obj=table)
    meta = callgrind_profile.meta
    assert again.meta.events == meta.events and len(meta.events) == 13
    assert again.meta.totals == meta.totals
    assert again.meta.tool == "callgrind" and again.meta.command == meta.command
    assert [again.meta.event(e) for e in meta.events] == [meta.event(e) for e in meta.events]
    assert sniff_tabular(path.read_bytes()[:200])


def test_an_sde_profile_keeps_its_blocks_and_mix(tmp_path):
    profile = parse_sde_mix(SAMPLES / "sde-mix-out.gapbs-tid0.txt")
    write_tabular(profile, tmp_path / "sde.zip", format="parquet")
    again = parse_tabular(tmp_path / "sde.zip")
    pd.testing.assert_frame_equal(again.blocks, profile.blocks, check_dtype=False)
    pd.testing.assert_frame_equal(again.mix, profile.mix, check_dtype=False)
    assert again.meta.totals == {"icount": 11689697}  # the ranked functions' sum: SDE's own total is a note
    assert again.meta.event_for("instructions") == "icount"
    ymm = again.instructions[again.instructions.register_class == "ymm"]
    assert list(ymm.columns[:4]) == ["function", "object", "address", "icount"]


def test_a_simulator_export_carries_cycles_and_tlb_misses(tmp_path):
    profile = parse_tabular(_simulator_export(tmp_path))
    meta = profile.meta
    assert meta.tool == "intel-iss" and meta.creator == "ISS 2024.1"
    assert meta.events == ("instructions", "cycles", "dtlb_miss")
    assert meta.totals == {"instructions": 981200, "cycles": 2903000, "dtlb_miss": 1102}
    assert (
        meta.event("cycles").kind == "simulated" and meta.event("cycles").label == "Core cycles (ISS model)"
    )
    assert meta.event("dtlb_miss").canonical == "dtlb_miss" and meta.event("dtlb_miss").kind == "simulated"
    assert meta.event_for("cycles") == "cycles"
    assert "cache model: 32 KiB L1D" in meta.notes
    functions = profile.functions.set_index("function")
    assert functions.loc["chase, the list", "self_cycles"] == 2000000
    assert functions.loc["main", "incl_dtlb_miss"] == 1102
    line = profile.lines.iloc[0]
    assert (line.line, line.instructions, line.dtlb_miss) == (12, 400000, 990)
    instructions = profile.instructions.set_index("address")
    assert instructions.loc[0x1134, "dtlb_miss"] == 1000  # from the memory table
    assert (
        instructions.loc[0x2518, "vector_width"] == 256
        and instructions.loc[0x2518, "register_class"] == "ymm"
    )
    assert instructions.loc[4404, "mnemonic"] == "mov"
    block = profile.blocks.iloc[0]
    assert (block.address, block.instructions, block.executions, block.cycles) == (0x1130, 4, 100000, 2000000)
    assert profile.calls.set_index("callee").loc["saxpy", "calls"] == 4


def test_inclusive_defaults_to_self_with_a_note(tmp_path):
    path = _archive(tmp_path / "p.zip", {"functions.csv": "function,cycles\nf,10\ng,5\n"})
    profile = parse_tabular(path)
    assert list(profile.functions.incl_cycles) == [10, 5]
    assert profile.functions.object.tolist() == ["", ""]
    assert any("inclusive is self" in note for note in profile.meta.notes)
    assert profile.meta.event("cycles").kind == "measured"


@pytest.mark.parametrize(
    ("members", "needle", "line"),
    [
        ({"functions.csv": "object,cycles\napp,1\n"}, "required column function is missing", 1),
        ({"functions.csv": "function,cycles\nf,1\ng,12.5\n"}, "'12.5' is not an integer", 3),
        ({"functions.csv": "function,cycles\nf,1\ng,-3\n"}, "negative count -3", 3),
        ({"functions.csv": "function,cycels\nf,1\n"}, "unknown column 'cycels'", 1),
        ({"functions.csv": "function,cycles\nf,1,2\n"}, "3 fields for 2 columns", 2),
        ({"functions.csv": "function,incl_cycles\nf,1\n"}, "no self column", 1),
        (
            {"functions.csv": "function,cycles\nf,1\n", "function.csv": "x\n"},
            "unknown table 'function.csv'",
            0,
        ),
        ({"lines.csv": "function,line\nf,1\n"}, "no functions table", 0),
        (
            {"functions.csv": "function,cycles\nf,1\n", "lines.csv": "function,line,dtlb_miss\nf,3,1\n"},
            "unknown column 'dtlb_miss'",
            1,
        ),
        ({"functions.csv": "function,D1mr\nf,1\n"}, "unknown column 'D1mr'", 1),
        (
            {
                "events.csv": "name,canonical,kind\nD1mr,l1d_read_miss,guessed\n",
                "functions.csv": "function,D1mr\nf,1\n",
            },
            "kind must be one of",
            0,
        ),
        (
            {"functions.csv": "function,cycles\nf,1\n", "instructions.csv": "function,address\nf,0xZZ\n"},
            "is not an address",
            2,
        ),
    ],
)
def test_malformed_tables_are_refused_with_member_and_line(tmp_path, members, needle, line):
    with pytest.raises(ProfileFormatError) as raised:
        parse_tabular(_archive(tmp_path / "bad.zip", members))
    assert needle in raised.value.message
    assert raised.value.line_number == line


def _parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def test_parquet_errors_give_line_zero_and_the_row(tmp_path):
    negative = _parquet(pd.DataFrame({"function": ["f", "g", "h"], "cycles": [1, 2, -3]}))
    with pytest.raises(ProfileFormatError) as raised:
        parse_tabular(_archive(tmp_path / "neg.zip", {"functions.parquet": negative}))
    assert raised.value.line_number == 0 and "row 2" in raised.value.message
    floats = _parquet(pd.DataFrame({"function": ["f"], "cycles": [1.5]}))
    with pytest.raises(ProfileFormatError, match="type double"):
        parse_tabular(_archive(tmp_path / "float.zip", {"functions.parquet": floats}))
    mixed = {
        "functions.parquet": _parquet(pd.DataFrame({"function": ["f"], "cycles": [1]})),
        "lines.csv": "x\n",
    }
    with pytest.raises(ProfileFormatError, match="mixes"):
        parse_tabular(_archive(tmp_path / "mixed.zip", mixed))


def test_a_directory_of_parquet_files_is_read_like_the_archive(tmp_path):
    (tmp_path / "RUNYARD-PROFILE").write_text(HEADER)
    (tmp_path / "functions.parquet").write_bytes(_parquet(pd.DataFrame({"function": ["f"], "cycles": [7]})))
    assert parse_tabular(tmp_path).meta.totals == {"cycles": 7}


def test_version_marker_and_sniffing(tmp_path):
    with pytest.raises(ProfileFormatError, match="version '2' is not supported"):
        parse_tabular(
            _archive(tmp_path / "v2.zip", {"functions.csv": "function\n"}, header="runyard-profile 2\n")
        )
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("functions.csv", "function\n")
    with pytest.raises(ProfileFormatError, match="not a Runyard profile"):
        parse_tabular(plain)
    assert not sniff_tabular(plain.read_bytes()[:200])
    assert sniff_tabular(_simulator_export(tmp_path).read_bytes()[:100])
    assert not sniff_tabular(b"# callgrind format\n")
    (tmp_path / "text.zip").write_text("events: Ir\n")
    with pytest.raises(ProfileFormatError, match="not a readable ZIP"):
        parse_tabular(tmp_path / "text.zip")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.text(max_size=200))
def test_garbage_only_ever_raises_a_format_error(tmp_path, raw, csv_text):
    (tmp_path / "raw.zip").write_bytes(raw)
    for path in (tmp_path / "raw.zip", _archive(tmp_path / "text.zip", {"functions.csv": csv_text})):
        try:
            profile = parse_tabular(path)
        except ProfileFormatError as error:
            assert error.line_number >= 0
        else:
            assert "function" in profile.functions.columns


def test_a_damaged_member_and_a_broken_csv_quote_are_format_errors(tmp_path):
    path = _simulator_export(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("functions.csv")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 8] = b"\xff" * 8
    (tmp_path / "damaged.zip").write_bytes(bytes(data))
    with pytest.raises(ProfileFormatError):
        parse_tabular(tmp_path / "damaged.zip")
    quote = _archive(tmp_path / "quote.zip", {"functions.csv": 'function,cycles\nf,1\n"g"x,2\n'})
    with pytest.raises(ProfileFormatError) as raised:
        parse_tabular(quote)
    assert raised.value.line_number == 3 and "functions.csv" in raised.value.message
