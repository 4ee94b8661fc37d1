"""Whatever text comes in, parsing either gives a spec or raises FormatError, never anything else."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.spec import formats, schema_problems
from jobs.spec.formats import FormatError
from tests.strategies import json_values

FAST = settings(max_examples=200, deadline=None)
YAMLISH = st.text(
    alphabet=st.sampled_from(list("abc-_:#&*!|>'\"[]{},?% \t\n0123.")) | st.characters(), max_size=200
)


def parses_or_format_error(text, **kwargs):
    try:
        kind, spec = formats.parse(text, **kwargs)
    except FormatError as error:
        assert error.line is None or error.line >= 1
        return None
    json.dumps(spec, allow_nan=False)  # storable as JSON
    schema_problems(spec)  # and checkable
    return spec


@FAST
@given(YAMLISH)
def test_any_text_gives_a_spec_or_a_format_error(text):
    parses_or_format_error(text, commands={"help": "test_help"})


@FAST
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "samples",
                "priority",
                "max_retries",
                "estimated_coverage",
                "coverage",
                "dy-r",
                "budget",
                "notes",
                "x",
            ]
        ),
        json_values,
        max_size=6,
    )
)
def test_any_yaml_document_gives_a_spec_or_a_format_error(document):
    import yaml

    parses_or_format_error(yaml.safe_dump(document), commands={})


CELL = st.text(alphabet=st.characters(blacklist_characters="\t\r\n"), max_size=12)


@FAST
@given(st.lists(st.lists(CELL, min_size=18, max_size=22), max_size=5), st.booleans())
def test_any_sample_sheet_gives_samples_or_a_format_error(rows, with_header):
    lines = (["\t".join(formats.SAMPLE_SHEET_COLUMNS)] if with_header else []) + [
        "\t".join(row) for row in rows
    ]
    try:
        samples = formats.read_stage_samples("\n".join(lines), bucket="b")
    except FormatError:
        return
    assert all(sample["fastq_r1"] for sample in samples)


PRINTABLE = st.characters(blacklist_categories=("Cc", "Zl", "Zp", "Zs"))
SAMPLE = st.fixed_dictionaries(
    {
        "sample_id": st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z"),
        "fastq_r1": st.text(alphabet=PRINTABLE, min_size=1, max_size=30),
        "fastq_r2": st.none() | st.text(alphabet="abc/_.R12", min_size=1, max_size=20),
        "coverage": st.none() | st.floats(min_value=0.5, max_value=1000),
    }
)
PRIORITY = st.sampled_from(["urgent", "normal", "low", "high"])
# YAML folds or normalises some of these unless they are quoted: NEL, line and paragraph separators, CR.
NOTES = st.text(alphabet=st.sampled_from("\x85\u2028\u2029\r\n\t :#'\"") | st.characters(), max_size=30)


@FAST
@given(st.lists(SAMPLE, min_size=1, max_size=5), NOTES, PRIORITY)
def test_every_spec_survives_the_sample_yaml_round_trip(samples, notes, priority):
    spec = {"spec_version": 1, "name": "prop run", "pipeline": "wgs", "reference_genome": "hg38",
            "priority": priority, "samples": samples, "notes": notes}  # fmt: skip
    assert formats.from_samples_yaml(formats.to_samples_yaml(spec)) == spec


ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@FAST
@given(ANY_TEXT, ANY_TEXT, st.none() | ANY_TEXT)
def test_any_names_give_a_daylily_work_yaml_that_reads_back(name, notes, cluster):
    spec = {"spec_version": 1, "name": name, "notes": notes, "preferred_cluster": cluster, "budget_usd": 12.5}
    work = formats.read_daylily_work(formats.to_daylily_work(spec, command="help", export_uri="s3://b/r/"))
    assert (work.command, work.notes, work.export_uri, work.budget) == ("help", notes, "s3://b/r/", 12.5)
    assert work.cluster_name == (cluster or None)
