"""The gprof reader against the real tool: a small C program is built with ``-pg`` and run, and
Runyard's samples, call counts and totals must equal what ``gprof`` and ``gprof -b`` print for the
same gmon.out. No database: the parser is a pure module."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.profiles.callgrind import ProfileFormatError
from analysis.profiles.gprof import parse_gprof, parse_gprof_text, sniff_gprof

SAMPLES = Path(__file__).resolve().parent / "samples"

# chase (pointer chase, cache misses) and arith (a multiply loop) take the time; fib recurses;
# even/odd call each other (a gprof cycle); helper is static and calls arith (a shared callee).
HOT_C = r"""
#include <stdio.h>
#include <stdlib.h>
#define HOT __attribute__((noipa))

HOT long chase(const long *next, long steps) {
    long i = 0;
    for (long s = 0; s < steps; s++) i = next[i];
    return i;
}

HOT long arith(long n, long seed) {
    long x = seed;
    for (long i = 0; i < n; i++) { x = x * 6364136223846793005L + 1442695040888963407L; x ^= x >> 13; }
    return x;
}

HOT long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

HOT long odd(long n);
HOT long even(long n) { return n == 0 ? 1 : odd(n - 1); }
HOT long odd(long n) { return n == 0 ? 0 : even(n - 1); }

static HOT long helper(long n, long seed) { return arith(n, seed) + even(seed & 7); }

int main(int argc, char **argv) {
    long n = atol(argv[1]);
    long *next = malloc(n * sizeof *next);
    for (long i = 0; i < n; i++) next[i] = i;
    srand(1);
    for (long i = n - 1; i > 0; i--) {
        long j = rand() % (i + 1), t = next[i];
        next[i] = next[j]; next[j] = t;
    }
    long s = 0;
    for (int r = 0; r < 4; r++) { s += chase(next, n); s += arith(n * 8, r); s += helper(n * 4, r); }
    s += fib(22);
    printf("%ld\n", s);
    free(next);
    return 0;
}
"""
FLAGS = ["-O2", "-g", "-pg", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls"]


def _require(tool: str) -> None:
    """Missing tools fail in CI (.ci/run installs them) and skip on a workstation without them."""
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed; .ci/run installs it")
        pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    """One profiled run (~1.2 s, ~120 samples at 100 Hz: enough that every function gets samples on a loaded
    machine), read by gprof in four ways."""
    for tool in ("gcc", "gprof"):
        _require(tool)
    work = tmp_path_factory.mktemp("gprof")
    (work / "hot.c").write_text(HOT_C)
    subprocess.run(["gcc", *FLAGS, "-o", "hot", "hot.c"], cwd=work, check=True)
    subprocess.run(["./hot", "2400000"], cwd=work, check=True, capture_output=True)
    runs = {"brief": ["-b"], "full": [], "flat": ["-b", "-p"], "graph": ["-b", "-q"], "lines": ["-b", "-l"]}
    return {
        name: subprocess.run(
            ["gprof", *options, "hot", "gmon.out"], cwd=work, check=True, capture_output=True, text=True
        ).stdout
        for name, options in runs.items()
    }


def _gprof_flat(text: str) -> tuple[dict[str, tuple[str, str | None]], str]:
    """gprof's own flat rows: name -> (self seconds, calls or None), and the last cumulative."""
    rows, cumulative, inside = {}, "", False
    for line in text.splitlines():
        if re.match(r"\s*time\s+seconds", line):
            inside = True
            continue
        if inside and not line.strip():
            break
        if inside:
            tokens = line.split()
            calls = tokens[3] if len(tokens) >= 7 else None
            name = " ".join(tokens[6:] if calls else tokens[3:])
            rows[name] = (tokens[2], calls)
            cumulative = tokens[1]
    return rows, cumulative


def test_self_samples_calls_and_totals_equal_gprofs_flat_profile(outputs):
    for name in ("brief", "full", "flat"):
        profile = parse_gprof_text(outputs[name])
        rows, cumulative = _gprof_flat(outputs[name])
        assert {"chase", "arith", "main"} <= set(rows)
        functions = profile.functions.set_index("function")
        for function, (seconds, calls) in rows.items():
            assert f"{functions.at[function, 'self_samples'] * 0.01:.2f}" == seconds, function
            got = functions.at[function, "calls"]
            assert pd.isna(got) if calls is None else got == int(calls), function
        assert f"{profile.meta.totals['samples'] * 0.01:.2f}" == cumulative
        assert profile.meta.totals["samples"] == profile.functions["self_samples"].sum() > 30


def test_the_brief_and_full_outputs_give_the_same_tables(outputs):
    brief, full = parse_gprof_text(outputs["brief"]), parse_gprof_text(outputs["full"])
    assert brief.functions.equals(full.functions)
    assert brief.calls.equals(full.calls)
    assert brief.meta == full.meta


def test_inclusive_samples_and_call_edges_follow_the_call_graph(outputs):
    profile = parse_gprof_text(outputs["brief"])
    functions = profile.functions.set_index("function")
    primaries = re.findall(r"^\[\d+\]\s+\S+\s+(\S+)\s+(\S+)\s+(?:[\d+]+\s+)?(\w+) \[", outputs["brief"], re.M)
    assert {name for *_, name in primaries} >= {"main", "chase", "arith", "helper", "fib"}
    for self_seconds, children, name in primaries:  # gprof's own self + children
        total = round((float(self_seconds) + float(children)) * 100)
        assert functions.at[name, "incl_samples"] == total, name
    assert functions.at["main", "incl_samples"] >= 0.95 * profile.meta.totals["samples"]
    assert functions.at["chase", "incl_samples"] == functions.at["chase", "self_samples"]
    assert pd.isna(functions.at["main", "calls"])  # gprof has no count for main: NA, not 0
    edges = {(r.caller, r.callee): (r.calls, r.samples) for r in profile.calls.itertuples()}
    assert edges[("main", "chase")] == (4, functions.at["chase", "self_samples"])
    assert edges[("main", "arith")][0] == edges[("helper", "arith")][0] == 4
    assert edges[("main", "helper")][0] == 4
    assert edges[("main", "fib")][0] == 1
    assert edges[("fib", "fib")][0] == 57312  # fib(22) calls itself 57 312 times: gprof's 1+57312
    assert functions.at["fib", "calls"] == 1
    # even/odd form <cycle 1>: members keep their names, the cycle-as-a-whole is no function.
    assert edges[("helper", "even")][0] == 4 and ("even", "odd") in edges and ("odd", "even") in edges
    assert not profile.functions["function"].str.contains("cycle").any()
    assert profile.meta.tool == "gprof" and profile.meta.events == ("samples",)
    event = profile.meta.event("samples")
    assert (event.canonical, event.kind, event.unit) == ("samples", "sampled", "0.01 s")
    assert any("0.01 s" in note for note in profile.meta.notes)
    assert profile.lines.empty and profile.instructions.empty and profile.blocks.empty and profile.mix.empty
    assert list(profile.lines.columns) == ["function", "object", "file", "line", "samples"]


def test_the_call_graph_alone_gives_self_inclusive_and_calls(outputs):
    graph, brief = parse_gprof_text(outputs["graph"]), parse_gprof_text(outputs["brief"])
    assert graph.calls.equals(brief.calls)
    columns = ["function", "self_samples", "incl_samples"]
    merged = graph.functions[columns].merge(brief.functions[columns], on="function", suffixes=("", "_b"))
    assert (merged.self_samples == merged.self_samples_b).all()
    assert (merged.incl_samples == merged.incl_samples_b).all()


def test_line_mode_gives_self_samples_by_source_line_and_address(outputs):
    lines, brief = parse_gprof_text(outputs["lines"]), parse_gprof_text(outputs["brief"])
    rows = re.findall(
        r"^\s*[\d.]+\s+[\d.]+\s+([\d.]+)\s.*?(\w+) \(hot\.c:(\d+) @ ([0-9a-f]+)\)$", outputs["lines"], re.M
    )
    assert len(rows) >= 5
    table = lines.lines.set_index(["function", "line"])
    for seconds, function, line, _ in rows:  # gprof -l prints each (function, line) once
        assert f"{table.at[(function, int(line)), 'samples'] * 0.01:.2f}" == seconds, (function, line)
    assert set(lines.lines.file) == {"hot.c"}
    by_function = lines.lines.groupby("function")["samples"].sum()
    # On a busy machine a sample can land in code with no line of hot.c (crt's _init): gprof -l prints that
    # function without a location, so it has self samples and no line or instruction rows.
    in_source = {function for _, function, _, _ in rows}
    outside = 0
    for function, own in lines.functions.set_index("function")["self_samples"].items():
        if function in in_source:
            assert by_function[function] == own, function
        else:
            assert function not in by_function, function
            outside += own
    assert lines.instructions["samples"].sum() == lines.meta.totals["samples"] - outside
    assert set(lines.instructions.address) == {int(address, 16) for *_, address in rows}
    edges = {(r.caller, r.callee, r.calls) for r in lines.calls.itertuples()}
    assert edges == {(r.caller, r.callee, r.calls) for r in brief.calls.itertuples()}


def test_per_call_units_and_file_suffixes_of_a_hand_written_excerpt():
    """Hand-written following binutils' layout: s/call units, a clone with a file suffix and a C++ name."""
    profile = parse_gprof(SAMPLES / "gprof-units-and-suffixes.txt")
    functions = profile.functions.set_index("function")
    assert functions.at["build_list.constprop.0", "file"] == "main.c"
    assert functions.at["build_list.constprop.0", "incl_samples"] == 210
    push_back = "std::vector<int, std::allocator<int> >::push_back(int const&)"
    assert functions.at[push_back, "calls"] == 200000
    assert functions.at[push_back, "self_samples"] == 30
    assert profile.meta.totals == {"samples": 570}
    edges = {(r.caller, r.callee): (r.calls, r.samples) for r in profile.calls.itertuples()}
    assert edges[("build_list.constprop.0", push_back)] == (200000, 30)


def test_a_finer_sample_period_is_used_and_its_rounding_noted():
    text = (SAMPLES / "gprof-units-and-suffixes.txt").read_text()
    profile = parse_gprof_text(text.replace("counts as 0.01 seconds", "counts as 0.001 seconds"))
    assert profile.meta.totals == {"samples": 5700}
    assert profile.meta.event("samples").unit == "0.001 s"
    assert any("rounded" in note for note in profile.meta.notes)


def test_sniffing_tells_gprof_from_other_profiles(outputs):
    for name in ("brief", "full", "flat", "graph"):
        assert sniff_gprof(outputs[name][:8192]), name
    assert not sniff_gprof("events: Ir\nfl=a.c\nfn=f\n1 2\n")
    assert not sniff_gprof("# Samples: 436  of event 'cpu-clock'\n")
    assert not sniff_gprof("")


def test_a_truncated_call_graph_is_refused_with_the_line_it_ends_on(outputs):
    lines = outputs["brief"].splitlines(keepends=True)
    primary = max(n for n, line in enumerate(lines, 1) if line.startswith("[4]"))
    with pytest.raises(ProfileFormatError, match="truncated") as caught:
        parse_gprof(lines[:primary])
    assert caught.value.line_number == primary


def test_a_garbled_line_is_refused_with_its_line_number(outputs):
    lines = outputs["brief"].splitlines(keepends=True)
    flat_row = next(n for n, line in enumerate(lines, 1) if line.rstrip().endswith("  chase"))
    primary = next(n for n, line in enumerate(lines, 1) if line.startswith("[2]"))
    for at, garbage in ((flat_row, " 12.x  0.20  zz\n"), (primary, "[2]  nonsense\n")):
        broken = [*lines[: at - 1], garbage, *lines[at:]]
        with pytest.raises(ProfileFormatError) as caught:
            parse_gprof(broken)
        assert caught.value.line_number == at, garbage
    changed = re.sub(  # cumulative seconds (2nd column) 5 s more: no longer the running sum
        r"^(\s*\S+\s+)(\d+\.\d+)", lambda m: f"{m[1]}{float(m[2]) + 5:.2f}", lines[flat_row - 1]
    )
    assert changed != lines[flat_row - 1]
    with pytest.raises(ProfileFormatError, match="cumulative"):
        parse_gprof([*lines[: flat_row - 1], changed, *lines[flat_row:]])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Flat profile:\n",
        "Flat profile:\n\nEach sample counts as 0.01 seconds.\n",
        "Flat profile:\n  %   cumulative   self\n time   seconds   seconds    name\n 1.0 1.0 1.0 f\n",
        "events: Ir\nfl=a.c\nfn=f\n1 1\n",
        "\t\t\tCall graph\n\nindex % time    self  children    called     name\n[1] 1.0 0.01\n",
        "\t\t\tCall graph\n\nindex % time    self  children    called     name\n-----------\n",
        "Flat profile:\n\nEach sample counts as 0 seconds.\n",
        "\x00\x01\x02",
    ],
)
def test_malformed_inputs_raise_only_the_typed_error(text):
    with pytest.raises(ProfileFormatError):
        parse_gprof_text(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=12), st.integers(0, 40))
def test_random_garbage_inside_real_output_raises_only_the_typed_error(junk, at):
    text = (SAMPLES / "gprof-units-and-suffixes.txt").read_text().splitlines(keepends=True)
    broken = [*text[:at], *(line + "\n" for line in junk), *text[at:]]
    try:
        parse_gprof(broken)
    except ProfileFormatError as error:
        assert error.line_number >= 0
