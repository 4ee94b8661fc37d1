"""The callgrind/cachegrind parser against the real tools: a small C program is compiled and profiled
with valgrind, and Runyard's totals and per-function costs must equal what callgrind_annotate and
cg_annotate print for the same files. No database: the parser is a pure module."""

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from analysis.profiles.callgrind import ProfileFormatError, chunks, parse_callgrind, parse_callgrind_text

# The first lines of real files of other profilers (Intel SDE -mix output, VTune hotspot CSV exports).
SAMPLES = Path(__file__).resolve().parent / "samples"
HOT_FUNCTIONS = ("scramble", "branchy", "main", "fib")

MIX_H = """
static inline __attribute__((always_inline)) long mix(long x) {
    long y = x * 2654435761L;
    return y ^ (y >> 7);
}
"""

HOT_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include "mix.h"

__attribute__((noinline)) long scramble(long *a, long n) {
    long s = 0;
    for (long i = 0; i < n; i++) { a[i] = mix(a[i] + i); s += a[i] & 1023; }
    return s;
}

__attribute__((noinline)) long branchy(const long *a, long n) {
    long c = 0;
    for (long i = 0; i < n; i++) { if (a[i] & 1) c += 3; else c -= 1; __asm__ volatile(""); }
    return c;
}

__attribute__((noinline)) long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char **argv) {
    long n = atol(argv[1]);
    long *a = malloc(n * sizeof *a);
    for (long i = 0; i < n; i++) a[i] = i * 7;
    long s = 0;
    for (int r = 0; r < 5; r++) { s += scramble(a, n); s += branchy(a, n); }
    s += fib(16);
    printf("%ld\n", s);
    free(a);
    return 0;
}
"""

CALLGRIND = ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--branch-sim=yes"]
RUNS = {
    "callgrind": CALLGRIND,
    "instr": [*CALLGRIND, "--dump-instr=yes", "--compress-pos=yes", "--compress-strings=yes"],
    "uncompressed": [*CALLGRIND, "--compress-pos=no", "--compress-strings=no"],
}


def _require(tool: str) -> None:
    """Missing tools fail in CI (.ci/run installs them) and skip on a workstation without them."""
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed; .ci/run installs it")
        pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> dict[str, Path]:
    """One build, four real profiles of it (three callgrind variants and one cachegrind)."""
    for tool in ("gcc", "valgrind", "callgrind_annotate", "cg_annotate"):
        _require(tool)
    work = tmp_path_factory.mktemp("hot")
    (work / "mix.h").write_text(MIX_H)
    (work / "hot.c").write_text(HOT_C)
    subprocess.run(["gcc", "-O2", "-g", "-o", "hot", "hot.c"], cwd=work, check=True)
    outputs = {}
    for name, command in RUNS.items():
        out = work / f"{name}.out.%p"
        subprocess.run(
            [*command, f"--callgrind-out-file={out}", "./hot", "100000"],
            cwd=work,
            check=True,
            capture_output=True,
        )
        outputs[name] = next(work.glob(f"{name}.out.*"))
    subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--cachegrind-out-file=cachegrind.out.%p"]
        + ["./hot", "100000"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    outputs["cachegrind"] = next(work.glob("cachegrind.out.*"))
    return outputs


# -- reading the reference tools' text ------------------------------------------------------------

PERCENT = re.compile(r"\(\s*[\d.]+%\)")


def _annotate(command: list[str], path: Path, events: int) -> tuple[list[int], list[tuple]]:
    """Program totals and (file, function, costs) rows of callgrind_annotate / cg_annotate."""
    text = subprocess.run(
        [*command, str(path)], cwd=path.parent, check=True, capture_output=True, text=True
    ).stdout
    totals, rows = None, []
    for line in text.splitlines():
        tokens = PERCENT.sub(" ", line).split()
        if len(tokens) <= events or not all(re.fullmatch(r"[\d,]+|\.", t) for t in tokens[:events]):
            continue
        costs = [0 if t == "." else int(t.replace(",", "")) for t in tokens[:events]]
        label = re.sub(r" \[[^\]]*\]$", "", " ".join(tokens[events:]))
        if label == "PROGRAM TOTALS":
            totals = costs
        else:
            file, _, function = label.partition(":")
            rows.append((file, function, costs))
    assert totals is not None, text
    return totals, rows


def _by_function(rows: list[tuple]) -> dict[str, list[int]]:
    """Annotators list inlined code as extra (header file, function) rows: sum them per function."""
    summed: dict[str, list[int]] = defaultdict(lambda: [0] * len(rows[0][2]))
    for _, function, costs in rows:
        summed[function] = [a + b for a, b in zip(summed[function], costs, strict=True)]
    return summed


def _runyard_self(profile) -> dict[str, list[int]]:
    events = profile.meta.events
    frame = profile.functions.groupby("function")[[f"self_{e}" for e in events]].sum()
    return {name: [int(v) for v in row] for name, row in zip(frame.index, frame.values, strict=True)}


# -- parity with the reference tools --------------------------------------------------------------


@pytest.mark.parametrize("run", list(RUNS))
def test_callgrind_totals_and_every_self_cost_equal_callgrind_annotate(profiles, run):
    profile = parse_callgrind(profiles[run])
    events = profile.meta.events
    assert " ".join(events) == "Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim"
    totals, rows = _annotate(
        ["callgrind_annotate", "--threshold=100", "--auto=no"], profiles[run], len(events)
    )
    assert totals == [profile.meta.summary[e] for e in events]  # PROGRAM TOTALS is summary:
    assert sum(profile.functions["self_Ir"]) == profile.meta.totals["Ir"]
    theirs = _by_function(rows)
    ours = _runyard_self(profile)
    nonzero = {name: costs for name, costs in ours.items() if any(costs)}
    assert nonzero == {name: costs for name, costs in theirs.items() if any(costs)}
    assert ours["scramble"][0] > ours["branchy"][0] > ours["main"][0] > 0


@pytest.mark.parametrize("run", list(RUNS))
def test_inclusive_costs_equal_callgrind_annotate_inclusive(profiles, run):
    profile = parse_callgrind(profiles[run])
    events = profile.meta.events
    _, rows = _annotate(
        ["callgrind_annotate", "--threshold=100", "--auto=no", "--inclusive=yes"],
        profiles[run],
        len(events),
    )
    functions = profile.functions.set_index("function")
    for name in HOT_FUNCTIONS:
        # The largest of a function's rows is its inclusive cost; the others are inlined fragments.
        theirs = max((costs for _, function, costs in rows if function == name), key=lambda c: c[0])
        assert [int(functions.loc[name, f"incl_{e}"]) for e in events] == theirs, name


def test_inlined_code_is_costed_to_its_function_and_lines_to_the_header(profiles):
    profile = parse_callgrind(profiles["instr"])
    lines = profile.lines
    in_header = lines[lines.file.str.endswith("mix.h")]
    assert set(in_header.function) == {"scramble"}
    assert in_header.Ir.sum() > 0
    scramble = lines[lines.function == "scramble"]
    assert scramble.Ir.sum() == profile.functions.set_index("function").loc["scramble", "self_Ir"]
    assert profile.instructions.Ir.sum() == profile.meta.totals["Ir"]
    assert profile.instructions.address.min() > 0
    assert list(profile.instructions.columns[-3:]) == ["mnemonic", "operands", "vector_width"]


def test_recursion_and_call_edges_carry_counts_and_inclusive_costs(profiles):
    profile = parse_callgrind(profiles["callgrind"])
    calls = profile.calls.set_index(["caller", "callee"])
    assert calls.loc[("main", "scramble"), "calls"] == 5
    assert calls.loc[("main", "fib"), "calls"] == 1
    assert calls.loc[("fib", "fib'2"), "calls"] >= 2  # gcc unrolls part of the recursion
    assert calls.loc[("fib'2", "fib'2"), "calls"] > 1000
    functions = profile.functions.set_index("function")
    assert calls.loc[("main", "scramble"), "Ir"] == functions.loc["scramble", "incl_Ir"]


def test_the_three_callgrind_encodings_give_the_same_tables(profiles):
    plain, instr, uncompressed = (parse_callgrind(profiles[r]) for r in RUNS)
    key = ["function", "object"]
    for other in (instr, uncompressed):
        left = plain.functions.sort_values(key).reset_index(drop=True)
        right = other.functions.sort_values(key).reset_index(drop=True)
        assert left.drop(columns="file").equals(right.drop(columns="file"))
        assert plain.lines.Ir.sum() == other.lines.Ir.sum()
    assert plain.instructions.empty and not instr.instructions.empty


def test_without_instructions_every_other_table_is_the_same(profiles):
    complete = parse_callgrind(profiles["instr"])
    lean = parse_callgrind(profiles["instr"], instructions=False)
    for table in ("functions", "lines", "calls"):
        pd.testing.assert_frame_equal(getattr(lean, table), getattr(complete, table), obj=table)
    assert lean.meta.totals == complete.meta.totals and lean.meta.summary == complete.meta.summary
    assert lean.instructions.empty and list(lean.instructions.columns) == list(complete.instructions.columns)
    assert len(complete.instructions) > 100
    assert any("instructions=False" in note for note in lean.meta.notes)


@pytest.mark.parametrize("run", list(RUNS))
def test_tiny_chunks_give_the_same_tables(profiles, run, monkeypatch):
    """The reader carries its state (function, file, last position, a pending calls=) from one
    chunk of the file to the next; cutting the file every few lines must change nothing."""
    whole = parse_callgrind(profiles[run])
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 97)
    for cut in (parse_callgrind(profiles[run]), parse_callgrind(profiles[run].read_text().splitlines())):
        for table in ("functions", "lines", "instructions", "calls"):
            pd.testing.assert_frame_equal(getattr(cut, table), getattr(whole, table), obj=table)
        assert cut.meta == whole.meta


def test_progress_reports_the_bytes_read_up_to_the_whole_file(profiles, monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 4096)
    path = profiles["callgrind"]
    seen: list[int] = []
    parse_callgrind(path, progress=seen.append)
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == path.stat().st_size


def test_windows_line_ends_are_read_like_unix_ones(tmp_path):
    path = tmp_path / "crlf.out"
    path.write_bytes(SPEC_EXAMPLE.replace("\n", "\r\n").encode())
    crlf, plain = parse_callgrind(path), parse_callgrind_text(SPEC_EXAMPLE)
    for table in ("functions", "lines", "instructions", "calls"):
        pd.testing.assert_frame_equal(getattr(crlf, table), getattr(plain, table), obj=table)


def test_cachegrind_totals_and_every_self_cost_equal_cg_annotate(profiles):
    profile = parse_callgrind(profiles["cachegrind"])
    events = profile.meta.events
    assert profile.meta.tool == "cachegrind"
    assert events[:3] == ("Ir", "I1mr", "ILmr")  # cachegrind's own order, not callgrind's
    totals, rows = _annotate(
        ["cg_annotate", "--threshold=0", "--auto=no"], profiles["cachegrind"], len(events)
    )
    assert totals == [profile.meta.totals[e] for e in events] == [profile.meta.summary[e] for e in events]
    theirs = _by_function(rows)
    ours = _runyard_self(profile)
    assert {n: c for n, c in ours.items() if any(c)} == {n: c for n, c in theirs.items() if any(c)}


# -- the format rules, on small hand-written files ------------------------------------------------

SPEC_EXAMPLE = """# callgrind format
version: 1
creator: hand
positions: instr line
events: Ir Dr

ob=(1) /bin/prog
fl=(1) main.c
fn=(1) main
0x10 3 5 1
+2 * 2
-1 +1 1 1
fi=(2) inl.h
0x20 7 4
fe=(1)
* * 1
cfi=(3) lib.c
cfn=(2) helper
calls=2 0x100 20
0x14 4 30 6
fn=(2)
0x100 20 29 6
jump=1 +4 *
+2 *
fn=(3) (below main)
0x200 1 1
totals: 43 8
summary: 43 8
"""


def test_it_follows_the_spec_for_compression_relative_positions_inlining_and_calls():
    profile = parse_callgrind_text(SPEC_EXAMPLE)
    functions = profile.functions.set_index("function")
    assert functions.loc["main", "self_Ir"] == 5 + 2 + 1 + 4 + 1
    assert functions.loc["main", "incl_Ir"] == 13 + 30
    assert functions.loc["helper", "file"] == "lib.c"
    assert functions.loc["(below main)", "self_Ir"] == 1
    lines = profile.lines.set_index(["function", "file", "line"])
    assert lines.loc[("main", "main.c", 3), "Ir"] == 7  # 5 at 0x10, 2 at 0x12 (same line, '*')
    assert lines.loc[("main", "main.c", 4), "Ir"] == 1  # 0x11: '-1 +1' from (0x12, 3)
    assert lines.loc[("main", "main.c", 7), "Ir"] == 1  # '* *' after fe= is back in main.c
    assert lines.loc[("main", "inl.h", 7), "Ir"] == 4
    instructions = profile.instructions.set_index(["function", "address"])
    assert instructions.loc[("main", 0x11), "Dr"] == 1
    assert instructions.loc[("helper", 0x100), "Ir"] == 29
    assert profile.calls.to_dict("records")[0] == {
        "caller": "main",
        "caller_object": "/bin/prog",
        "callee": "helper",
        "callee_object": "/bin/prog",
        "calls": 2,
        "Ir": 30,
        "Dr": 6,
    }


def test_parts_are_summed_and_each_checked_against_its_totals():
    two_parts = """events: Ir
part: 1
fl=a.c
fn=f
1 10
totals: 10
part: 2
fl=a.c
fn=f
1 5
2 1
totals: 6
"""
    profile = parse_callgrind_text(two_parts)
    assert profile.meta.parts == 2
    assert profile.meta.totals == {"Ir": 16}
    with pytest.raises(ProfileFormatError) as caught:
        parse_callgrind_text(two_parts.replace("totals: 6", "totals: 7"))
    assert caught.value.line_number == 12
    assert "7" in str(caught.value) and "6" in str(caught.value)


# -- errors: one typed error with the line number, never another exception ------------------------


def test_a_truncated_file_is_refused_with_the_line_it_ends_on(profiles):
    lines = profiles["instr"].read_text().splitlines(keepends=True)
    # Cut before a line long enough to be cut in its middle (valgrind's output varies
    # from run to run, and a blank line cut to four characters is no cut at all).
    at = next(i for i in range(len(lines) // 2, len(lines)) if len(lines[i].strip()) > 4)
    half = lines[:at]
    with pytest.raises(ProfileFormatError) as caught:
        parse_callgrind(half)
    assert caught.value.line_number == len(half)
    assert f"line {len(half)}" in str(caught.value) and "truncated" in str(caught.value)
    cut_mid_line = "".join(half) + lines[at][:4]
    with pytest.raises(ProfileFormatError) as caught:
        parse_callgrind_text(cut_mid_line)
    assert caught.value.line_number == len(half) + 1


def test_a_garbage_line_is_refused_with_its_line_number(profiles):
    lines = profiles["callgrind"].read_text().splitlines(keepends=True)
    at = len(lines) // 3
    for garbage in ("@@ not profile data @@\n", "12 abc\n", "fn=(9999999)\n", "\x00\x01\x02\n"):
        broken = [*lines[:at], garbage, *lines[at:]]
        with pytest.raises(ProfileFormatError) as caught:
            parse_callgrind(broken)
        assert caught.value.line_number == at + 1, garbage
        assert str(caught.value).startswith(f"line {at + 1}: ")


def test_errors_keep_their_line_number_across_chunk_boundaries(profiles, tmp_path, monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 97)
    lines = profiles["instr"].read_text().splitlines(keepends=True)
    for at in (len(lines) // 4, len(lines) // 2, len(lines) - 3):
        path = tmp_path / f"broken{at}.out"
        path.write_text("".join([*lines[:at], "12 abc\n", *lines[at:]]))
        with pytest.raises(ProfileFormatError) as caught:
            parse_callgrind(path)
        assert caught.value.line_number == at + 1 and "abc" in str(caught.value)


def test_a_gprof_file_is_refused_on_its_first_line(tmp_path):
    for tool in ("gcc", "gprof"):
        _require(tool)
    (tmp_path / "p.c").write_text(
        "int main(void) { volatile long s = 0; for (long i = 0; i < 9; i++) s += i; return 0; }\n"
    )
    subprocess.run(["gcc", "-pg", "-o", "p", "p.c"], cwd=tmp_path, check=True)
    subprocess.run(["./p"], cwd=tmp_path, check=True)
    flat = subprocess.run(
        ["gprof", "-b", "p", "gmon.out"], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout
    with pytest.raises(ProfileFormatError) as caught:
        parse_callgrind_text(flat)
    first = next(n for n, line in enumerate(flat.splitlines(), 1) if line.strip())
    assert caught.value.line_number == first


def test_other_profilers_sample_files_are_refused_not_crashed_on():
    samples = sorted(path for path in SAMPLES.glob("*") if path.is_file())  # profilers' excerpts, not costs/
    assert len(samples) >= 3  # other readers add their own excerpts here
    for sample in samples:
        with pytest.raises(ProfileFormatError) as caught:
            parse_callgrind(sample)
        assert caught.value.line_number >= 1, sample


def test_totals_that_do_not_match_the_costs_name_both_numbers(profiles):
    text = profiles["callgrind"].read_text()
    lines = text.splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines, 1) if line.startswith("totals:"))
    real = int(lines[at - 1].split()[1])
    lines[at - 1] = lines[at - 1].replace(f"totals: {real}", f"totals: {real + 5}", 1)
    with pytest.raises(ProfileFormatError) as caught:
        parse_callgrind(lines)
    assert caught.value.line_number == at
    assert f"totals: Ir is {real + 5} but the cost lines sum to {real}" in str(caught.value)


def test_a_summary_below_the_costs_is_refused():
    text = "events: Ir\nfl=a.c\nfn=f\n1 10\nsummary: 9\n"
    with pytest.raises(ProfileFormatError, match="summary: Ir is 9 but the cost lines sum to 10"):
        parse_callgrind_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "events: Ir\n",
        "fl=a.c\nfn=f\n1 1\n",
        "events: Ir\nfl=a.c\n1 1\ntotals: 1\n",
        "events: Ir\nfl=a.c\nfn=f\n1 1 2\ntotals: 1\n",
        "events: Ir\nfl=a.c\nfn=f\ncfn=g\ncalls=1 1\nfn=h\n",
        "events: Ir\nfl=a.c\nfn=f\n-5 1\ntotals: 1\n",
        "events: Ir\nfl=a.c\nfn=f\n99999999999999999999999 1\ntotals: 1\n",
        "events: Ir\nfl=a.c\nfn=f\n1 99999999999999999999999\ntotals: 99999999999999999999999\n",
        "positions: nonsense\n",
    ],
)
def test_malformed_inputs_raise_only_the_typed_error(text):
    with pytest.raises(ProfileFormatError):
        parse_callgrind_text(text)


def test_a_bad_cost_is_named_even_when_a_later_line_also_fails():
    """Costs are converted in batches; a later, immediately detected error must not hide an earlier one."""
    text = "events: Ir\npositions: line\nfl=a.c\nfn=f\n12 abc\n-20 1\ntotals: 1\n"
    with pytest.raises(ProfileFormatError) as caught:
        parse_callgrind_text(text)
    assert caught.value.line_number == 5 and "abc" in str(caught.value)
