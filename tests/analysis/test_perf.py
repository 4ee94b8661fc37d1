"""The perf readers against the real tool: a small C program is recorded with ``perf record -g`` and
Runyard's reading of ``perf script`` must equal what ``perf report`` prints for the same perf.data
(samples and periods per symbol, Children and Self percentages), whatever the timing noise of the
run. Hardware events cannot be recorded on this VM (no PMU): the files with cycles/instructions
under tests/analysis/samples/ are hand-written following perf 6.1's layout."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.profiles.callgrind import ProfileFormatError
from analysis.profiles.perf import (
    parse_perf_report,
    parse_perf_report_text,
    parse_perf_script,
    parse_perf_script_text,
    sniff_perf_report,
    sniff_perf_script,
)
from tests.analysis.test_gprof import HOT_C

SAMPLES = Path(__file__).resolve().parent / "samples"
PINNED = "comm,pid,tid,time,period,event,ip,sym,symoff,dso"
REFERENCE = ["--no-children", "-g", "none", "--sort", "sym", "-F", "overhead,sample,period,sym"]
REPORTS = {
    "reference": REFERENCE,
    "pinned": ["--no-children", "-g", "none", "--sort", "dso,sym", "-F", "overhead,sample,period,dso,sym"],
    "children": [],
    "self": ["--no-children"],
}
SCRIPTS = {"default": [], "pinned": ["-F", PINNED], "srcline": ["-F", f"{PINNED},srcline"], "flat": ["-G"]}


def _require(tool: str) -> None:
    """Missing tools fail in CI (.ci/run installs them) and skip on a workstation without them."""
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed; .ci/run installs it")
        pytest.skip(f"{tool} is not installed")


def _perf(work: Path, *args: str) -> str:
    done = subprocess.run(["perf", *args], cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, f"perf {' '.join(args)} failed:\n{done.stderr}"  # fail loudly, never skip
    return done.stdout


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    """One recording (~0.4 s at 999 Hz, a few hundred samples), printed by perf in eight ways."""
    for tool in ("gcc", "perf"):
        _require(tool)
    work = tmp_path_factory.mktemp("perf")
    (work / "hot.c").write_text(HOT_C)
    flags = ["-O2", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls"]
    subprocess.run(["gcc", *flags, "-o", "hot", "hot.c"], cwd=work, check=True)
    _perf(work, "record", "-q", "-e", "cpu-clock", "-F", "999", "-g", "-o", "perf.data", "./hot", "800000")
    texts = {f"script-{name}": _perf(work, "script", "-i", "perf.data", *o) for name, o in SCRIPTS.items()}
    for name, options in REPORTS.items():
        texts[f"report-{name}"] = _perf(work, "report", "-i", "perf.data", "--stdio", *options)
    # Two software events in one recording: perf report prints one table per event.
    _perf(work, "record", "-q", "-e", "cpu-clock,page-faults", "-o", "multi.data", "./hot", "300000")
    texts["multi-script"] = _perf(work, "script", "-i", "multi.data", "-F", PINNED)
    texts["multi-report"] = _perf(work, "report", "-i", "multi.data", "--stdio", *REPORTS["pinned"])
    return texts


def _reference(text: str) -> dict[str, tuple[int, int]]:
    """perf report's own rows (``--sort sym -F overhead,sample,period,sym``): symbol -> (samples, period)."""
    rows: dict[str, tuple[int, int]] = {}
    for line in text.splitlines():
        row = re.match(r"^\s+[\d.]+%\s+(\d+)\s+(\d+)\s+\[.\] (.*?)\s*$", line)
        if row:
            samples, period = rows.get(row.group(3), (0, 0))
            rows[row.group(3)] = (samples + int(row.group(1)), period + int(row.group(2)))
    return rows


def _self_by_symbol(profile) -> dict[str, tuple[int, int]]:
    costs = profile.functions.groupby("function")[["self_samples", "self_cpu-clock"]].sum()
    costs = costs[costs["self_samples"] > 0]
    return {name: (int(row.iloc[0]), int(row.iloc[1])) for name, row in costs.iterrows()}


def test_script_samples_and_periods_per_symbol_equal_perf_reports(outputs):
    reference = _reference(outputs["report-reference"])
    assert {"chase", "arith"} <= set(reference)
    for name in ("default", "pinned", "srcline", "flat"):
        profile = parse_perf_script_text(outputs[f"script-{name}"])
        assert _self_by_symbol(profile) == reference, name
        assert profile.meta.totals["samples"] == sum(s for s, _ in reference.values()) > 100
        assert profile.meta.totals["cpu-clock"] == sum(p for _, p in reference.values())
        assert profile.meta.events == ("cpu-clock", "samples")
        assert profile.meta.event("cpu-clock").canonical == "time_ns"
        assert profile.meta.event("cpu-clock").kind == "sampled"


def test_inclusive_and_self_shares_equal_perf_reports_children_and_self_columns(outputs):
    profile = parse_perf_script_text(outputs["script-default"])
    total = profile.meta.totals["cpu-clock"]
    ours = {
        (row.function, Path(row.object).name): (
            f"{100 * row['incl_cpu-clock'] / total:.2f}%",
            f"{100 * row['self_cpu-clock'] / total:.2f}%",
        )
        for _, row in profile.functions.iterrows()
    }
    rows = re.findall(
        r"^\s+(\S+%)\s+(\S+%)\s+\S+\s+(\S+)\s+\[.\] (.*?)\s*$", outputs["report-children"], re.M
    )
    assert len(rows) >= 5
    for children, self_share, dso, symbol in rows:
        assert ours[(symbol, dso)] == (children, self_share), symbol


def test_call_edges_come_from_adjacent_frames_once_per_sample(outputs):
    profile = parse_perf_script_text(outputs["script-default"])
    functions = profile.functions.set_index("function")
    edges = profile.calls.set_index(["caller", "callee"])
    chase = functions.loc["chase"]
    into_chase = edges.xs("chase", level="callee")
    assert into_chase["samples"].sum() == chase["incl_samples"]  # chase is never a caller
    assert (profile.calls["calls"] == profile.calls["samples"]).all()  # sampled: samples, not calls
    assert (profile.functions["incl_samples"] >= profile.functions["self_samples"]).all()
    assert any("not calls" in note for note in profile.meta.notes)
    pinned = parse_perf_script_text(outputs["script-pinned"])
    assert pinned.calls.equals(profile.calls) and pinned.functions.equals(profile.functions)


def test_flat_samples_without_call_chains_have_no_edges(outputs):
    profile = parse_perf_script_text(outputs["script-flat"])
    assert profile.calls.empty and profile.instructions.empty
    assert (profile.functions["incl_samples"] == profile.functions["self_samples"]).all()


def test_srcline_fills_the_lines_table_and_addresses_the_instructions(outputs):
    profile = parse_perf_script_text(outputs["script-srcline"])
    lines = profile.lines[profile.lines.function == "chase"]
    assert (
        set(lines.file) == {"hot.c"}
        and lines["samples"].sum() == _reference(outputs["report-reference"])["chase"][0]
    )
    assert parse_perf_script_text(outputs["script-default"]).lines.empty
    instructions = profile.instructions[profile.instructions.function == "chase"]
    assert instructions["samples"].sum() == lines["samples"].sum()
    assert list(profile.instructions.columns)[-3:] == ["mnemonic", "operands", "vector_width"]


def test_report_tables_equal_the_script_and_each_other(outputs):
    script = _self_by_symbol(parse_perf_script_text(outputs["script-default"]))
    for name in ("reference", "pinned"):
        profile = parse_perf_report_text(outputs[f"report-{name}"])
        assert _self_by_symbol(profile) == script, name
        assert profile.meta.event("cpu-clock").kind == "sampled"
        assert profile.calls.empty
    pinned = parse_perf_report_text(outputs["report-pinned"]).functions
    assert {"hot", "[kernel.kallsyms]"} <= set(pinned.object)


def test_report_without_a_period_column_is_estimated_from_overhead(outputs):
    script = parse_perf_script_text(outputs["script-default"]).functions.set_index(["function"])
    profile = parse_perf_report_text(outputs["report-children"])
    assert profile.meta.events == ("cpu-clock",)
    assert profile.meta.event("cpu-clock").kind == "estimated"
    assert any("estimated" in note for note in profile.meta.notes)
    total = profile.meta.summary["cpu-clock"]
    for _, row in profile.functions.iterrows():
        for column in ("self_cpu-clock", "incl_cpu-clock"):  # within the 0.005 % that perf prints
            assert abs(row[column] - script.at[row.function, column]) <= total * 0.00005 + 1, row.function


def test_a_recording_of_two_events_gives_one_column_pair_per_event(outputs):
    script = parse_perf_script_text(outputs["multi-script"])
    report = parse_perf_report_text(outputs["multi-report"])
    events = ("cpu-clock", "samples:cpu-clock", "page-faults", "samples:page-faults")
    assert report.meta.events == events  # perf report's order; perf script's is the first sample's
    assert set(script.meta.events) == set(events)
    assert script.meta.totals == report.meta.totals
    assert report.meta.summary == {e: report.meta.totals[e] for e in ("cpu-clock", "page-faults")}
    columns = [f"self_{event}" for event in events]
    ours = script.functions.groupby(["function", "object"])[columns].sum()
    theirs = report.functions.assign(object=report.functions.object.map(lambda o: o.rsplit("/", 1)[-1]))
    theirs = theirs.groupby(["function", "object"])[columns].sum()
    ours = ours.rename(index=lambda o: o.rsplit("/", 1)[-1], level="object")
    ours = ours.groupby(level=["function", "object"]).sum()
    assert ours.sort_index().equals(theirs.sort_index())
    assert script.meta.event("page-faults").canonical == ""  # shown, not interpreted


def test_hand_written_report_with_hardware_events_and_several_sections():
    """Hand-written following perf 6.1's layout (this VM has no PMU): cycles:u and instructions:u
    with the pinned columns, then cache-misses in the default layout."""
    profile = parse_perf_report(SAMPLES / "perf-report-hw-events.txt")
    meta = profile.meta
    assert meta.events == (
        "cycles:u",
        "samples:cycles:u",
        "instructions:u",
        "samples:instructions:u",
        "cache-misses",
    )
    assert meta.event_for("cycles") == "cycles:u" and meta.event_for("instructions") == "instructions:u"
    assert meta.event("cache-misses").canonical == "llc_miss"
    assert meta.event("cache-misses").kind == "estimated"
    assert meta.event("cycles:u").kind == "sampled"
    assert meta.totals["cycles:u"] == meta.summary["cycles:u"] == 10_000_000_000
    functions = profile.functions.set_index("function")
    triad = functions.loc["triad_kernel"]
    assert (triad["self_cycles:u"], triad["self_samples:cycles:u"]) == (7_250_000_000, 2900)
    assert triad["self_instructions:u"] == 6_000_000_000
    assert triad["self_cache-misses"] == 1_800_000
    vector = "std::vector<double, std::allocator<double> >::operator[](unsigned long)"
    assert functions.at[vector, "self_cycles:u"] == 2_000_000_000
    assert functions.at["clear_page_erms", "object"] == "[kernel.kallsyms]"
    assert functions.at["clear_page_erms", "self_cache-misses"] == 0


def test_hand_written_script_with_hardware_events_recursion_and_odd_names():
    """Hand-written following perf 6.1's perf script layout with -F …,srcline (no PMU here)."""
    profile = parse_perf_script(SAMPLES / "perf-script-hw-events.txt")
    assert profile.meta.events == ("cycles:u", "samples:cycles:u", "instructions:u", "samples:instructions:u")
    assert profile.meta.totals == {
        "cycles:u": 1_100_000,
        "samples:cycles:u": 4,
        "instructions:u": 500_000,
        "samples:instructions:u": 2,
    }
    functions = profile.functions.set_index("function")
    assert functions.at["triad_kernel", "self_cycles:u"] == 500_000
    assert functions.at["triad_kernel", "incl_cycles:u"] == 1_000_000
    assert functions.at["main", "incl_cycles:u"] == 1_000_000
    assert functions.at["fib", "incl_instructions:u"] == 100_000  # once per sample, not per frame
    assert functions.at["worker", "object"] == "/tmp/plugin.so (deleted)"  # noqa: S108
    # unknown: named by address as perf report does, and a zero address without its 0x
    assert functions.at["0000000000000000", "self_cycles:u"] == 100_000
    edges = profile.calls.set_index(["caller", "callee"])
    assert edges.at[("run_triad", "triad_kernel"), "calls"] == 4
    assert edges.at[("run_triad", "triad_kernel"), "cycles:u"] == 1_000_000
    assert edges.at[("fib", "fib"), "calls"] == 1
    lines = profile.lines.set_index(["function", "line"])
    assert lines.at[("triad_kernel", 42), "cycles:u"] == 250_000
    assert lines.at[("triad_kernel", 42), "instructions:u"] == 400_000
    assert "??" not in set(profile.lines.file)


def test_sniffing_tells_the_perf_outputs_apart(outputs):
    for name in SCRIPTS:
        text = outputs[f"script-{name}"][:8192]
        assert sniff_perf_script(text) and not sniff_perf_report(text), name
    for name in REPORTS:
        text = outputs[f"report-{name}"][:8192]
        assert sniff_perf_report(text) and not sniff_perf_script(text), name
    gprof = "Flat profile:\n\nEach sample counts as 0.01 seconds.\n"
    assert not sniff_perf_script(gprof) and not sniff_perf_report(gprof)
    assert not sniff_perf_script("events: Ir\n") and not sniff_perf_report("")


def test_a_truncated_or_garbled_script_is_refused_with_its_line_number(outputs):
    lines = outputs["script-default"].splitlines(keepends=True)
    frame = max(n for n, line in enumerate(lines[:40], 1) if line.startswith("\t") and "(" in line)
    cut = lines[frame - 1][: lines[frame - 1].index("(") - 3]  # ends inside sym+off, before (dso)
    with pytest.raises(ProfileFormatError) as caught:
        parse_perf_script([*lines[: frame - 1], cut])
    assert caught.value.line_number == frame
    for garbage in ("@@ not perf @@\n", "\tzz main+0x1 (hot)\n"):
        with pytest.raises(ProfileFormatError) as caught:
            parse_perf_script([*lines[:frame], garbage, *lines[frame:]])
        assert caught.value.line_number == frame + 1, garbage


def test_a_garbled_report_row_is_refused_with_its_line_number(outputs):
    lines = outputs["report-pinned"].splitlines(keepends=True)
    row = next(n for n, line in enumerate(lines, 1) if line.rstrip().endswith("[.] chase"))
    for broken_row in (lines[row - 1].replace("%", "#"), lines[row - 1][:20] + "\n"):
        with pytest.raises(ProfileFormatError) as caught:
            parse_perf_report([*lines[: row - 1], broken_row, *lines[row:]])
        assert caught.value.line_number == row


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# just a comment\n",
        "Flat profile:\n\nEach sample counts as 0.01 seconds.\n",
        "events: Ir\nfl=a.c\nfn=f\n1 1\n",
        "hot 1 1.0: 1 cpu-clock: \n\n",
        "\t 10d8 main+0x38 (/tmp/hot)\n",
        "# Samples: 1  of event 'x'\n    1.00%  hot  [.] f\n",
        "# Samples: 1  of event 'x'\n# Overhead  Command\n# ........  .......\n#\n",
        "\x00\x01\x02",
    ],
)
def test_malformed_inputs_raise_only_the_typed_error(text):
    for parse in (parse_perf_script_text, parse_perf_report_text):
        with pytest.raises(ProfileFormatError):
            parse(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=10), st.integers(0, 50))
def test_random_garbage_inside_real_output_raises_only_the_typed_error(junk, at):
    for sample, parse in (
        ("perf-script-hw-events.txt", parse_perf_script),
        ("perf-report-hw-events.txt", parse_perf_report),
    ):
        text = (SAMPLES / sample).read_text().splitlines(keepends=True)
        try:
            parse([*text[:at], *(line + "\n" for line in junk), *text[at:]])
        except ProfileFormatError as error:
            assert error.line_number >= 0
