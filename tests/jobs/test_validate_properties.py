"""Whatever JSON arrives, the validate endpoint answers 200 (a report) or 400 (not an object), never 500."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.validation import CODES
from tests.strategies import json_values

VALIDATE = "/api/v1/worksets/validate?dry_run=true"
paths = (
    st.sampled_from(["in/a.fq", "s3://x/y", "../z", "%2e%2e/a", "/abs", "a//b", "", "é/\u00e9.fq"])
    | st.text()
)
samples = st.lists(
    st.fixed_dictionaries(
        {"sample_id": st.text(max_size=8), "fastq_r1": paths},
        optional={"fastq_r2": paths | st.none(), "coverage": json_values},
    ),
    max_size=4,
)
spec_like = st.fixed_dictionaries(
    {
        "spec_version": st.sampled_from([1, 2, "1"]),
        "name": st.text(max_size=12),
        "pipeline": st.sampled_from(["germline", "wes", "nope", ""]) | st.text(max_size=6),
        "reference_genome": st.sampled_from(["hg38", "GRCh37", "x"]) | st.text(max_size=6),
        "samples": samples | json_values,
    },
    optional={
        "priority": st.sampled_from(["urgent", "normal", "asap"]),
        "coverage": json_values,
        "export_uri": paths | st.none() | json_values,
        "budget_usd": json_values,
        "strict": json_values,
    },
)


@pytest.mark.django_db
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=spec_like | json_values)
def test_the_validate_endpoint_never_answers_500(api_for, world, body):
    response = api_for(world.alice).post(VALIDATE, body, format="json")
    assert response.status_code in (200, 400), (body, response.content)
    if response.status_code == 200:
        report = response.json()
        assert all(problem["code"] in CODES for problem in report["problems"])
        assert report["valid"] == (not any(p["severity"] == "error" for p in report["problems"]))
