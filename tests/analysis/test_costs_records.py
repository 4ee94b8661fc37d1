"""Job-metadata readers: Heliox-shaped JSON, JSON Lines and CSV, validated and normalised row by row."""

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from analysis.costs.records import (
    GPU_TYPES,
    PROVIDERS,
    JobRecord,
    RowError,
    TeamRecord,
    normalise_gpu_type,
    normalise_provider,
    parse_timestamp,
    read_csv,
    read_json,
    read_jsonl,
)

GOOD_JOB = {
    "job_id": "job-001",
    "team_name": "ml-research",
    "model_name": "llama-2-7b",
    "provider": "AWS",
    "gpu_type": "A100",
    "gpu_count": 8,
    "start_time": "2026-01-01T22:00:00Z",
    "end_time": "2026-01-02T02:00:00Z",
    "status": "completed",
}
HELIOX_DOC = {
    "teams": [
        {"name": "ml-research", "description": "Core ML research", "budget_usd": 50000},
        {"name": "data-science", "description": "Analytics", "budget_usd": 75000.50},
    ],
    "jobs": [GOOD_JOB],
}


def _utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def test_it_reads_heliox_json_keeping_team_budgets():
    records = list(read_json(json.dumps(HELIOX_DOC)))

    assert records == [
        TeamRecord("ml-research", "Core ML research", Decimal("50000")),
        TeamRecord("data-science", "Analytics", Decimal("75000.5")),
        JobRecord(
            "job-001",
            "ml-research",
            "llama-2-7b",
            "aws",
            "a100",
            8,
            _utc(2026, 1, 1, 22),
            _utc(2026, 1, 2, 2),
            "completed",
        ),
    ]


def test_it_normalises_case_whitespace_and_zones():
    row = dict(
        GOOD_JOB,
        team_name="  ml   research ",
        model_name=" LLaMA-2-7B ",
        provider=" Gcp ",
        gpu_type="h100 ",
        gpu_count="4",
        start_time="2026-01-02T01:00:00+02:00",
        end_time="2026-01-02T03:30:00+02:00",
        status=" Completed",
    )

    (job,) = read_json(json.dumps({"jobs": [row]}))

    assert (job.team_name, job.model_name, job.provider, job.gpu_type) == (
        "ml research",
        "llama-2-7b",
        "gcp",
        "h100",
    )
    assert (job.gpu_count, job.status) == (4, "completed")
    assert job.start_time == _utc(2026, 1, 1, 23) and job.start_time.utcoffset().total_seconds() == 0
    assert job.end_time == _utc(2026, 1, 2, 1, 30)


@pytest.mark.parametrize(
    ("override", "field", "phrase"),
    [
        ({"start_time": "2026-01-01T22:00:00"}, "start_time", "no time zone"),
        ({"end_time": "2026-01-02 02:00"}, "end_time", "no time zone"),
        ({"start_time": "yesterday"}, "start_time", "not an ISO 8601"),
        ({"end_time": "2026-01-01T21:00:00Z"}, "end_time", "before start_time"),
        ({"end_time": None}, "end_time", "required for a completed job"),
        ({"status": "done"}, "status", "pending, running, completed, failed, cancelled"),
        ({"provider": "ibm"}, "provider", ", ".join(PROVIDERS)),
        ({"gpu_type": "rtx4090"}, "gpu_type", ", ".join(GPU_TYPES)),
        ({"gpu_count": 0}, "gpu_count", "positive integer"),
        ({"gpu_count": 2.5}, "gpu_count", "positive integer"),
        ({"gpu_count": "two"}, "gpu_count", "positive integer"),
        ({"gpu_count": True}, "gpu_count", "positive integer"),
        ({"job_id": "  "}, "job_id", "required"),
        ({"team_name": None}, "team_name", "required"),
    ],
)
def test_it_reports_a_bad_job_row_with_its_field_and_reason(override, field, phrase):
    (error,) = read_json(json.dumps({"jobs": [dict(GOOD_JOB, **override)]}))

    assert isinstance(error, RowError)
    assert (error.row_number, error.field, error.kind) == (1, field, "job")
    assert phrase in error.message


def test_open_jobs_may_have_no_end():
    rows = [
        dict(GOOD_JOB, job_id=f"j{n}", status=status, end_time="")
        for n, status in enumerate(("pending", "running"))
    ]

    jobs = list(read_json(json.dumps({"jobs": rows})))

    assert [(job.status, job.end_time) for job in jobs] == [("pending", None), ("running", None)]


def test_bad_rows_are_reported_and_good_rows_kept():
    rows = [
        GOOD_JOB,
        dict(GOOD_JOB, job_id="job-002", gpu_type="tpu"),
        "oops",
        dict(GOOD_JOB, job_id="job-004"),
    ]
    teams = [{"name": "a", "budget_usd": -5}, {"name": "b", "budget_usd": "12.30"}]

    records = list(read_json(json.dumps({"teams": teams, "jobs": rows})))

    errors = [(r.kind, r.row_number, r.field) for r in records if isinstance(r, RowError)]
    assert errors == [("team", 1, "budget_usd"), ("job", 2, "gpu_type"), ("job", 3, None)]
    assert [r.job_id for r in records if isinstance(r, JobRecord)] == ["job-001", "job-004"]
    assert [r for r in records if isinstance(r, TeamRecord)] == [TeamRecord("b", "", Decimal("12.30"))]


def test_it_refuses_a_document_that_is_not_json():
    (error,) = read_json('{"jobs": [')

    assert isinstance(error, RowError) and "not valid JSON" in error.message


JOBS_CSV = """\
Job_ID,team_name,model_name,provider,gpu_type,gpu_count,start_time,end_time,status,extra
job-001,ml-research,llama-2-7b,AWS,A100,8,2026-01-01T22:00:00Z,2026-01-02T02:00:00Z,completed,x
job-002,ml-research,gpt-4,aws,H100,2,2026-01-01T10:00:00,2026-01-01T12:00:00Z,completed,x

job-003,"data science",bert-base,aws,a100,1,2026-01-03T00:00:00Z,,running,x
job-004,ml-research,gpt-4,aws,h100,-1,2026-01-01T10:00:00Z,2026-01-01T12:00:00Z,completed,x
"""


def test_it_reads_a_jobs_csv_numbering_rows_by_file_line():
    records = list(read_csv(io.StringIO(JOBS_CSV, newline="")))

    assert [type(r).__name__ for r in records] == ["JobRecord", "RowError", "JobRecord", "RowError"]
    assert records[0] == next(iter(read_json(json.dumps({"jobs": [GOOD_JOB]}))))
    assert (records[1].row_number, records[1].field) == (3, "start_time")
    assert (records[2].team_name, records[2].end_time, records[2].status) == ("data science", None, "running")
    assert (records[3].row_number, records[3].field) == (6, "gpu_count")


def test_it_reads_a_teams_csv_and_keeps_budgets():
    text = "name,description,budget_usd\nml-research,Core ML,50000\nai-platform,,\nbad,,lots\n"

    records = list(read_csv(io.StringIO(text)))

    assert records[:2] == [
        TeamRecord("ml-research", "Core ML", Decimal("50000")),
        TeamRecord("ai-platform", "", None),
    ]
    assert (records[2].row_number, records[2].field, records[2].kind) == (4, "budget_usd", "team")


def test_a_csv_header_lacking_job_fields_is_one_error():
    (error,) = read_csv(io.StringIO("job_id,team_name\njob-1,a\n"))

    assert (error.row_number, error.kind) == (1, "header") and "model_name" in error.message


def test_json_lines_stream_teams_and_jobs_lazily():
    lines = [
        json.dumps({"name": "ml-research", "budget_usd": 10}),
        "",
        json.dumps(GOOD_JOB),
        "{broken",
    ]
    reader = read_jsonl(iter(lines))

    assert next(reader) == TeamRecord("ml-research", "", Decimal("10"))
    assert next(reader).job_id == "job-001"
    error = next(reader)
    assert (error.row_number, error.field) == (4, None)


def test_reading_the_same_input_twice_yields_equal_records():
    text = json.dumps(HELIOX_DOC)

    first, second = list(read_json(text)), list(read_json(io.StringIO(text)))

    assert first == second and len(set(first)) == 3  # hashable, comparable by value


def test_shared_normalisers_for_rate_files():
    assert (normalise_provider(" AWS "), normalise_gpu_type("H100")) == ("aws", "h100")
    with pytest.raises(ValueError, match="a100, h100"):
        normalise_gpu_type("k80")
    with pytest.raises(ValueError, match="no time zone"):
        parse_timestamp("2026-01-01T00:00:00")


@pytest.mark.parametrize("chunk_chars", [1, 2, 3, 7, 64, 1 << 16])
def test_json_is_streamed_in_chunks_with_the_same_records(chunk_chars):
    jobs = [dict(GOOD_JOB, job_id=f"job-{n}", gpu_count=n + 10) for n in range(5)]
    text = json.dumps({"meta": {"source": "heliox"}, "teams": HELIOX_DOC["teams"], "jobs": jobs}, indent=2)

    records = list(read_json(io.StringIO(text), chunk_chars=chunk_chars))

    assert records == list(read_json(text))
    assert [r.gpu_count for r in records[2:]] == [10, 11, 12, 13, 14]  # numbers cut by a chunk stay whole
    assert records[0] == TeamRecord("ml-research", "Core ML research", Decimal("50000"))


def test_a_json_syntax_error_keeps_the_rows_before_it_and_names_its_line():
    text = '{"jobs": [\n' + json.dumps(GOOD_JOB) + ",\n" + '{"job_id": "job-2",, }\n]}'

    good, error = read_json(io.StringIO(text), chunk_chars=5)

    assert good.job_id == "job-001"
    assert (error.kind, error.row_number, error.field) == ("document", 3, None)
    assert "not valid JSON" in error.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected '{'"),
        ('{"jobs": 5}', "'jobs' must be a list"),
        ('{"jobs": []} x', "after the document"),
    ],
)
def test_a_json_document_of_the_wrong_shape_is_one_error(text, message):
    (error,) = read_json(text)

    assert isinstance(error, RowError) and message in error.message


def test_an_empty_json_document_has_no_rows():
    assert list(read_json("{}")) == list(read_json('{"teams": [], "jobs": null}')) == []
