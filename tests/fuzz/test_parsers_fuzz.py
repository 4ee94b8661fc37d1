"""Every reader of a user's file, fed real files with damage done to them (tests.strategies.mutated_lines):
it gives its result or its own typed error, never another exception.

Already covered elsewhere, and not repeated here: random text into the workset formats
(tests/jobs/test_formats_properties.py) and the validate and generator endpoints, random lines with a
header into gprof, perf, objdump and SDE, random bytes into the tabular reader, random text into the
failure diagnoser. Here: mutations of real samples for every profile format (callgrind had no property
test), the profile detector on any bytes, the cost and rate importers, the workset formats' real
documents, knowledge documents and FASTQ files. ``RUNYARD_FUZZ_EXAMPLES`` raises the examples
(README, "Security").
"""

import gzip
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.costs.rates import RateRecord, read_rates_csv
from analysis.costs.records import JobRecord, RowError, TeamRecord, read_csv, read_json, read_jsonl
from analysis.profiles import detect
from analysis.profiles.callgrind import parse_callgrind
from analysis.profiles.gprof import parse_gprof
from analysis.profiles.model import Profile, ProfileFormatError
from analysis.profiles.objdump import parse_objdump
from analysis.profiles.perf import parse_perf_report, parse_perf_script
from analysis.profiles.sde import parse_sde_mix
from chat.knowledge.reading import Unreadable, read_document
from jobs.pipelines.fastq_qc import InvalidFastq, stats_of
from jobs.spec import formats, schema_problems
from jobs.spec.formats import FormatError
from tests.analysis.test_callgrind import SPEC_EXAMPLE
from tests.knowledge.pdf import make_pdf
from tests.strategies import mutated_lines

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "analysis" / "samples"
DEMO = ROOT / "analysis" / "demo_profiles"
SCALE = int(os.environ.get("RUNYARD_FUZZ_EXAMPLES", "5")) / 5  # 5 is the default of the contract test
FUZZ = settings(max_examples=int(40 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(FUZZ, max_examples=int(15 * SCALE))  # readers that build a whole profile take ~0.1 s a file


def lines_of(path: Path, limit: int | None = None) -> list[str]:
    return path.read_text().splitlines(keepends=True)[:limit]


def profile_or_format_error(parse, lines) -> None:
    try:
        profile = parse(lines)
    except ProfileFormatError as error:
        assert error.line_number >= 0
    else:
        assert isinstance(profile, Profile)


PROFILES = {
    "gprof": (parse_gprof, lines_of(SAMPLES / "gprof-units-and-suffixes.txt"), FUZZ),
    "perf script": (parse_perf_script, lines_of(SAMPLES / "perf-script-hw-events.txt"), FUZZ),
    "perf report": (parse_perf_report, lines_of(SAMPLES / "perf-report-hw-events.txt"), FUZZ),
    "sde": (parse_sde_mix, lines_of(SAMPLES / "sde-mix-out.gapbs-tid0.txt", 160), FUZZ),
    "objdump": (parse_objdump, lines_of(DEMO / "before.objdump", 160), SLOW),
    "callgrind (spec example)": (parse_callgrind, SPEC_EXAMPLE.splitlines(keepends=True), SLOW),
    # cut short, so every mutation ends refused, but the compiled loop reads each mutated cost line first
    "callgrind (real, cut)": (parse_callgrind, lines_of(DEMO / "before.callgrind", 120), FUZZ),
}


@pytest.mark.parametrize("name", PROFILES)
def test_a_damaged_profile_gives_a_profile_or_a_format_error(name):
    parse, sample, examples = PROFILES[name]

    @examples
    @given(mutated_lines(sample))
    def run(lines):
        profile_or_format_error(parse, lines)

    run()


@FUZZ
@given(
    st.binary(max_size=400)
    | mutated_lines(SPEC_EXAMPLE.splitlines(keepends=True)).map(lambda lines: "".join(lines).encode()),
    st.booleans(),
)
def test_any_upload_is_detected_and_parsed_or_refused_with_a_format_error(data, zipped):
    """The upload path: sniff the first bytes, then parse the file by path (gzip first undone)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(gzip.compress(data) if zipped else data)
        try:
            readable = detect.ungzipped(path)
            profile = detect.parse_path(readable, detect.detect(readable))
        except ProfileFormatError as error:
            assert error.line_number >= 0
        else:
            assert isinstance(profile, Profile)


# --- cost data and rates: readers never raise, each row is a record or a RowError --------------------

COSTS = SAMPLES / "costs"
DEMO_COSTS = ROOT / "analysis" / "demo_costs"


def as_uploaded(lines: list[str]) -> io.StringIO:
    """The text as the ingest task reads a file: newlines kept as they are (``newline=""``)."""
    return io.StringIO("".join(lines), newline="")


COST_READERS = {
    "jobs.json": (lambda lines: read_json(as_uploaded(lines), chunk_chars=64), lines_of(COSTS / "jobs.json")),
    "heliox-jobs.json": (
        lambda lines: read_json(as_uploaded(lines)),
        lines_of(DEMO_COSTS / "heliox-jobs.json", 60),
    ),
    "jobs.jsonl": (lambda lines: read_jsonl(as_uploaded(lines)), None),
    "jobs.csv": (lambda lines: read_csv(as_uploaded(lines)), lines_of(COSTS / "jobs.csv")),
    "rates.csv": (lambda lines: read_rates_csv(as_uploaded(lines)), lines_of(DEMO_COSTS / "rates.csv")),
}
RECORDS = (JobRecord, TeamRecord, RateRecord, RowError)


def _jsonl_sample() -> list[str]:
    document = json.loads((COSTS / "jobs.json").read_text())
    return [json.dumps(row) + "\n" for row in (*document["teams"], *document["jobs"])]


def records_or_row_errors(records) -> None:
    for record in records:
        assert isinstance(record, RECORDS)
        if isinstance(record, RowError):
            assert record.row_number >= 0 and record.message


@pytest.mark.parametrize("name", COST_READERS)
def test_damaged_cost_data_gives_records_or_row_errors(name):
    read, sample = COST_READERS[name]

    @FUZZ
    @given(mutated_lines(sample or _jsonl_sample()))
    def run(lines):
        records_or_row_errors(read(lines))

    run()


# Found by these tests: a quote never closed ran into csv's field size limit (csv.Error), and JSON nested
# past the recursion limit raised RecursionError, out of the readers and through the ingest task.
@FUZZ
@given(
    st.sampled_from(sorted(COST_READERS)),
    st.integers(0, 30),
    st.sampled_from(['"', "[" * 50_000, '{"a": ' * 20_000]),
    st.integers(1, 12_000),
)
def test_a_stray_quote_or_deep_nesting_anywhere_gives_row_errors(name, at, poison, rows):
    read, sample = COST_READERS[name]
    lines = list(sample or _jsonl_sample())
    filler = lines[-1] if lines else "\n"
    lines = [
        *lines[:at],
        poison + lines[at] if at < len(lines) else poison,
        *lines[at + 1 :],
        *[filler] * rows,
    ]
    records_or_row_errors(read(lines))


# --- workset documents: the three formats, real documents damaged ----------------------------------

SPEC = {
    "spec_version": 1,
    "name": "germline trio",
    "pipeline": "germline",
    "reference_genome": "hg38",
    "priority": "normal",
    "notes": "trio: proband, mother, father",
    "budget_usd": 120.5,
    "preferred_cluster": "hpc-east",
    "samples": [
        {"sample_id": "NA12878", "fastq_r1": "in/NA12878_R1.fq.gz", "fastq_r2": "in/NA12878_R2.fq.gz",
         "coverage": 30.0},
        {"sample_id": "NA12891", "fastq_r1": "in/NA12891_R1.fq.gz", "fastq_r2": None, "coverage": None},
    ],
}  # fmt: skip
DOCUMENTS = {
    "samples.yaml": formats.to_samples_yaml(SPEC),
    "daylily_work.yaml": formats.to_daylily_work(SPEC, command="germline", export_uri="s3://b/runs/"),
    "stage_samples.tsv": formats.to_stage_samples(SPEC, bucket="b"),
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_damaged_workset_document_gives_a_spec_or_a_format_error(name):
    @FUZZ
    @given(mutated_lines(DOCUMENTS[name].splitlines(keepends=True)))
    def run(lines):
        try:
            _, spec = formats.parse(
                "".join(lines),
                commands={"germline": "germline"},
                name="n",
                reference_genome="hg38",
                bucket="b",
            )
        except FormatError as error:
            assert error.line is None or error.line >= 1
        else:
            json.dumps(spec, allow_nan=False)  # storable, and a spec the validator can judge
            schema_problems(spec)

    run()


@FUZZ
@given(
    mutated_lines(DOCUMENTS["daylily_work.yaml"].splitlines(keepends=True)),
    mutated_lines(DOCUMENTS["stage_samples.tsv"].splitlines(keepends=True)),
)
def test_a_damaged_daylily_pair_gives_a_spec_or_a_format_error(work, sheet):
    try:
        _, spec = formats.parse("".join(work), commands={}, sample_sheet="".join(sheet), bucket="b")
    except FormatError:
        return
    json.dumps(spec, allow_nan=False)  # storable (without dy-r the pair is read as the sample-oriented YAML)
    schema_problems(spec)


# --- knowledge documents and FASTQ ------------------------------------------------------------------

MARKDOWN = "# Runbook\n\nRestart the *worker*.\n\n## Slurm\n\n- `scontrol ping`\n- drain the node\n"
PDF = make_pdf([["Runbook", "Restart the worker."], ["Slurm: scontrol ping"]])


@FUZZ
@given(
    st.binary(max_size=300)
    | mutated_lines(MARKDOWN.splitlines(keepends=True)).map(lambda x: "".join(x).encode()),
    st.sampled_from(["notes.md", "notes.txt", "notes.pdf", "notes.docx", "NOTES.MD", "notes"]),
)
def test_any_knowledge_document_is_read_or_refused_as_unreadable(data, filename):
    try:
        reading = read_document(data, filename)
    except Unreadable as error:
        assert str(error)
    else:
        assert reading.passages


FASTQ = "@r1\nACGTN\n+\nIIII#\n@r2 lane:2\nGGCC\n+r2\n!!~~\n"


@FUZZ
@given(mutated_lines(FASTQ.splitlines(keepends=True)))
def test_a_damaged_fastq_gives_statistics_or_invalid_fastq(lines):
    try:
        stats = stats_of(lines, "x.fq")
    except InvalidFastq:
        return
    assert stats.reads >= 0
