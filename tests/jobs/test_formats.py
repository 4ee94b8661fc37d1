"""The compatibility formats: the sample-oriented YAML, daylily_work.yaml and stage_samples.tsv.

The Daylily shapes are those of the monitor's own test worksets: a single-sample ``help`` run, and the
seven GIAB samples HG001–HG007 with a concordance target.
"""

import pytest

from jobs.spec import formats, schema_problems, with_defaults
from jobs.spec.formats import FormatError

BUCKET = "ry-alpha-omics"
SNV_COMMAND = (
    'produce_snv_concordances -p -k -j 20 --config aligners=["sent","bwa2a","strobe"] '
    'dedupers=["dppl"] snv_callers=["sentd","deep19","oct"]'
)
COMMANDS = {"help": "test_help", SNV_COMMAND: "germline"}

HELP_WORK = """\
# (optional) Keep or drop. If present, the monitor won't try to create/use a different one.
# cluster_name: "newcluex"

day-clone: " -d {workdir_name} -t 0.7.389  "

# Args only; the monitor's run_prefix holds the dy-r command itself.
dy-r: >
  help

export_uri: "s3://ry-alpha-omics/monitoring/worksets/runme14/results/"

notes: "Daylily Snakemake; hg38; slurm profile; 192 jobs; rerun-incomplete."
"""

SNV_WORK = f"""\
day-clone: " -d {{workdir_name}} -t 0.7.389  "
dy-r: >
   {SNV_COMMAND.replace(" -p", "  -p")}
export_uri: "s3://ry-alpha-omics/monitoring/worksets/allgiab/results/"
notes: "all GIAB samples"
cluster_name: "giab-cluster"
budget: 250
"""

HEADER = "\t".join(formats.SAMPLE_SHEET_COLUMNS)
GIAB_DIR = "s3://ry-alpha-omics/data/giab/NovaSeqX_WHGS_TruSeqPF_HG002-007"


def giab_row(sample: str) -> str:
    cells = [
        "R0", sample, "x4", "blood", "noampwgs", "ILMN", "NOVASEQX", "0", "S1", "",
        f"{GIAB_DIR}/{sample}_30x_R1.fastq.gz", f"{GIAB_DIR}/{sample}_30x_R2.fastq.gz",
        "stage_data", "/fsx/staged_sample_data/", "na", "false", "false", "1", "1", sample,
    ]  # fmt: skip
    return "\t".join(cells)


GIAB = [f"HG00{number}" for number in range(1, 8)]
GIAB_SHEET = "\n".join([HEADER, *(giab_row(sample) for sample in GIAB)])  # no final newline, as in the wild
HELP_SHEET = HEADER + "\n" + giab_row("HG002") + "\n"


def full_spec(**overrides) -> dict:
    spec = {
        "spec_version": 1,
        "name": "GIAB trio",
        "pipeline": "germline",
        "reference_genome": "GRCh38",
        "priority": "urgent",
        "max_retries": 5,
        "preferred_cluster": "cluster-a",
        "coverage": 35.5,
        "samples": [
            {
                "sample_id": "HG002",
                "fastq_r1": "in/HG002_R1.fq.gz",
                "fastq_r2": "in/HG002_R2.fq.gz",
                "coverage": 40,
            },
            {"sample_id": "HG003", "fastq_r1": "in/HG003_R1.fq.gz", "fastq_r2": None, "coverage": None},
        ],
        "notifications": {"emails": ["alice@example.com"], "events": ["completed", "failed"]},
        "export_uri": "results/trio/",
        "notes": "first run\nsecond line: with a colon",
        "budget_usd": 120.5,
    }
    return {**spec, **overrides}


# --- the sample-oriented YAML ---


def test_a_spec_survives_the_sample_yaml_round_trip():
    spec = full_spec()
    assert formats.from_samples_yaml(formats.to_samples_yaml(spec)) == spec


def test_a_minimal_spec_survives_the_round_trip_with_its_defaults():
    spec = with_defaults({"name": "one", "pipeline": "wgs", "reference_genome": "hg38",
                          "samples": [{"sample_id": "S1", "fastq_r1": "a.fq"}]})  # fmt: skip
    assert formats.from_samples_yaml(formats.to_samples_yaml(spec)) == spec


def test_the_sample_yaml_uses_the_prior_arts_key_names():
    text = formats.to_samples_yaml(full_spec())
    assert "estimated_coverage: 35.5" in text
    assert "spec_version" not in text and "\ncoverage:" not in text


def test_the_validators_shape_from_the_prior_art_imports_and_passes_the_schema():
    text = """\
samples:
  - sample_id: HG002
    fastq_r1: HG002_R1.fastq.gz
    fastq_r2: HG002_R2.fastq.gz
    coverage: 30
reference_genome: hg38
pipeline: germline
priority: normal
max_retries: 3
preferred_cluster: null
estimated_coverage: 30.0
name: hg002-run
"""
    spec = formats.from_samples_yaml(text)
    assert spec["coverage"] == 30.0 and spec["samples"][0]["fastq_r2"] == "HG002_R2.fastq.gz"
    assert schema_problems(spec) == []


def test_an_unknown_priority_passes_through_for_the_validator_to_report():
    spec = formats.from_samples_yaml("name: x-run\npriority: high\nsamples: []\n")
    assert spec["priority"] == "high"
    assert any(p.path == "priority" for p in schema_problems(spec))


def test_dates_stay_text():
    spec = formats.from_samples_yaml("name: 2024-01-31\nnotes: 2024-01-31T10:00:00Z\n")
    assert spec["name"] == "2024-01-31" and spec["notes"] == "2024-01-31T10:00:00Z"


def test_bad_yaml_is_a_format_error_with_its_line():
    with pytest.raises(FormatError) as caught:
        formats.from_samples_yaml("name: x\npipeline: [germline\nreference_genome: hg38\n")
    assert caught.value.line in (3, 4)
    assert "Not valid YAML" in caught.value.message


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("- just\n- a list\n", 1, None),
        ("name: x\nsamples: HG002\n", 2, "samples"),
        ("name: x\nsamples:\n  - sample_id: A\n    fastq_r1: a.fq\n  - HG003\n", 5, "samples[1]"),
        ("name: x\nestimated_coverage: 30\ncoverage: 30\n", 3, "coverage"),
        ("name: x\nsamples:\n  - sample_id: A\n    coverage: .nan\n", 4, "samples[0].coverage"),
        ("name: x\n1: y\n", 2, None),
    ],
)
def test_wrong_shapes_are_format_errors_with_line_and_field(text, line, field):
    with pytest.raises(FormatError) as caught:
        formats.from_samples_yaml(text)
    assert (caught.value.line, caught.value.field) == (line, field)


def test_wrong_value_types_are_left_to_the_schema_with_their_paths():
    spec = formats.from_samples_yaml("name: x-run\nmax_retries: three\nsamples:\n  - sample_id: 7\n")
    paths = {problem.path for problem in schema_problems(spec)}
    assert {"max_retries", "samples[0].sample_id", "samples[0]"} <= paths


def test_a_recursive_alias_is_refused_not_followed():
    with pytest.raises(FormatError, match="refers to itself"):
        formats.from_samples_yaml("a: &x [*x]\n")


def test_the_error_reads_as_line_field_message():
    error = FormatError("samples must be a list.", line=2, field="samples")
    assert str(error) == "line 2, samples: samples must be a list."
    assert error.as_dict() == {"line": 2, "field": "samples", "message": "samples must be a list."}


# --- daylily_work.yaml ---


def test_the_single_sample_help_run_imports_and_validates():
    spec = formats.from_daylily_work(
        HELP_WORK,
        commands=COMMANDS,
        sample_sheet=HELP_SHEET,
        bucket=BUCKET,
        name="runme14",
        reference_genome="hg38",
    )
    assert spec["pipeline"] == "test_help"
    assert spec["export_uri"] == "s3://ry-alpha-omics/monitoring/worksets/runme14/results/"
    assert spec["samples"] == [{
        "sample_id": "HG002",
        "fastq_r1": "data/giab/NovaSeqX_WHGS_TruSeqPF_HG002-007/HG002_30x_R1.fastq.gz",
        "fastq_r2": "data/giab/NovaSeqX_WHGS_TruSeqPF_HG002-007/HG002_30x_R2.fastq.gz",
        "coverage": None,
    }]  # fmt: skip
    assert schema_problems(spec) == []


def test_the_seven_sample_giab_batch_imports_and_validates():
    kind, spec = formats.parse(
        SNV_WORK, commands=COMMANDS, sample_sheet=GIAB_SHEET, name="allgiab", reference_genome="GRCh38"
    )
    assert kind == formats.DAYLILY_WORK
    assert spec["pipeline"] == "germline"
    assert [sample["sample_id"] for sample in spec["samples"]] == GIAB
    assert (
        spec["samples"][6]["fastq_r1"] == f"{GIAB_DIR}/HG007_30x_R1.fastq.gz"
    )  # no bucket given: as written
    assert (spec["preferred_cluster"], spec["budget_usd"]) == ("giab-cluster", 250)
    assert schema_problems(spec) == []


def test_an_unknown_dy_r_is_kept_for_the_validator():
    spec = formats.from_daylily_work("dy-r: produce_everything -j 9\n", commands=COMMANDS)
    assert spec["pipeline"] == "produce_everything -j 9"


CARRIED_ELSEWHERE = ("name", "reference_genome", "priority", "max_retries", "coverage", "notifications")


def test_daylily_work_round_trips_what_it_carries():
    spec = full_spec(
        samples=[{"sample_id": "HG002", "fastq_r1": "in/a_R1.fq", "fastq_r2": "in/a_R2.fq", "coverage": None}]
    )
    work = formats.to_daylily_work(spec, command="help", workdir="giab-trio-0a1b2c3d")
    sheet = formats.to_stage_samples(spec, bucket=BUCKET)
    back = formats.from_daylily_work(
        work, commands={"help": "germline"}, sample_sheet=sheet, bucket=BUCKET,
        **{key: spec[key] for key in CARRIED_ELSEWHERE},
    )  # fmt: skip
    assert back == spec


def test_daylily_work_has_exactly_the_monitors_keys():
    import yaml

    spec = full_spec(preferred_cluster=None, budget_usd=None, export_uri=None)
    text = formats.to_daylily_work(spec, command="help", export_uri="s3://b/results/x/", workdir="x-1")
    assert yaml.safe_load(text) == {
        "day-clone": " -d x-1 -t main ",
        "dy-r": "help",
        "export_uri": "s3://b/results/x/",
        "notes": "first run\nsecond line: with a colon",
    }
    assert formats.detect_format(text) == formats.DAYLILY_WORK


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("day-clone: x\nnotes: y\n", 1, "dy-r"),
        ("dy-r: help\nbudget: lots\n", 2, "budget"),
        ("dy-r: [help]\n", 1, "dy-r"),
        ("dy-r: '  '\n", 1, "dy-r"),
    ],
)
def test_bad_daylily_work_is_a_format_error(text, line, field):
    with pytest.raises(FormatError) as caught:
        formats.from_daylily_work(text, commands=COMMANDS)
    assert (caught.value.line, caught.value.field) == (line, field)


# --- stage_samples.tsv ---


def test_the_sample_sheet_has_the_20_columns_and_the_daylily_defaults():
    sheet = formats.to_stage_samples(full_spec(), bucket=BUCKET)
    header, first, second = sheet.splitlines()
    row = dict(zip(header.split("\t"), first.split("\t"), strict=True))
    assert len(header.split("\t")) == 20
    assert {key: row[key] for key in ("SAMPLE_TYPE", "LIB_PREP", "SEQ_PLATFORM", "LANE", "STAGE_DIRECTIVE",
                                       "SUBSAMPLE_PCT", "IS_POS_CTRL", "IS_NEG_CTRL")} == {
        "SAMPLE_TYPE": "WGS", "LIB_PREP": "ILLUMINA", "SEQ_PLATFORM": "NOVASEQ", "LANE": "1",
        "STAGE_DIRECTIVE": "STAGE", "SUBSAMPLE_PCT": "100", "IS_POS_CTRL": "FALSE", "IS_NEG_CTRL": "FALSE",
    }  # fmt: skip
    assert row["R1_FQ"] == f"s3://{BUCKET}/in/HG002_R1.fq.gz"
    assert second.split("\t")[11] == ""  # HG003 has no R2


def test_samples_survive_the_sample_sheet_round_trip():
    spec = full_spec()
    samples = [{**sample, "coverage": None} for sample in spec["samples"]]
    back = formats.read_stage_samples(formats.to_stage_samples(spec, bucket=BUCKET), bucket=BUCKET)
    assert back == samples


def test_the_giab_sheet_is_detected_and_read_with_its_keys_in_the_bucket():
    kind, spec = formats.parse(
        GIAB_SHEET, bucket=BUCKET, name="allgiab", pipeline="germline", reference_genome="hg38"
    )
    assert kind == formats.STAGE_SAMPLES
    assert len(spec["samples"]) == 7
    assert spec["samples"][0]["fastq_r1"].startswith("data/giab/")
    assert schema_problems(spec) == []


def test_a_sample_on_two_lanes_stays_on_two_rows_for_the_validator():
    samples = formats.read_stage_samples(HEADER + "\n" + giab_row("HG002") + "\n" + giab_row("HG002") + "\n")
    assert [sample["sample_id"] for sample in samples] == ["HG002", "HG002"]


def test_missing_columns_are_named():
    header = HEADER.replace("R2_FQ\t", "").replace("\tN_Y", "")
    with pytest.raises(FormatError) as caught:
        formats.read_stage_samples(header + "\n")
    assert caught.value.line == 1 and caught.value.field == "R2_FQ"
    assert "R2_FQ, N_Y" in caught.value.message


def test_a_row_with_the_wrong_column_count_names_its_line():
    short = "\t".join(giab_row("HG003").split("\t")[:12])
    with pytest.raises(FormatError) as caught:
        formats.read_stage_samples(f"# comment\n{HEADER}\n{giab_row('HG002')}\n\n{short}\n")
    assert caught.value.line == 5
    assert "12 columns" in caught.value.message


def test_a_row_without_r1_names_the_field():
    cells = giab_row("HG002").split("\t")
    cells[10] = "na"
    with pytest.raises(FormatError) as caught:
        formats.read_stage_samples(HEADER + "\n" + "\t".join(cells))
    assert (caught.value.line, caught.value.field) == (2, "R1_FQ")


def test_an_empty_sheet_is_a_format_error():
    with pytest.raises(FormatError, match="empty"):
        formats.read_stage_samples("\n\n")


def test_the_formats_are_told_apart():
    assert formats.detect_format(GIAB_SHEET) == formats.STAGE_SAMPLES
    assert formats.detect_format(HELP_WORK) == formats.DAYLILY_WORK
    assert formats.detect_format(formats.to_samples_yaml(full_spec())) == formats.SAMPLES_YAML
