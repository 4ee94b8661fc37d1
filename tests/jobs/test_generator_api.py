"""The YAML generator's API: generate-yaml, parse and discover, through the API client against moto's S3.

The bucket outlives each test's transaction, so every test that uploads works under a prefix of its own.
"""

import io
from uuid import uuid4

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.catalog.models import Pipeline
from tenants.models import Bucket
from tenants.storage import storage_for

GENERATE, PARSE, DISCOVER = (
    "/api/v1/worksets/generate-yaml",
    "/api/v1/worksets/parse",
    "/api/v1/worksets/discover",
)


def put(bucket: Bucket, *keys: str) -> None:
    storage = storage_for(bucket)
    for key in keys:
        storage.upload(key, io.BytesIO(b"@r\nACGT\n+\nIIII\n"))


def form(**overrides) -> dict:
    fields = {
        "name": "GIAB trio",
        "pipeline": "germline",
        "reference_genome": "GRCh38",
        "priority": "normal",
        "max_retries": 4,
        "coverage": 30,
        "samples": [
            {"sample_id": "HG002", "fastq_r1": "in/HG002_R1.fq.gz", "fastq_r2": "in/HG002_R2.fq.gz"},
            {"sample_id": "HG003", "fastq_r1": "in/HG003_R1.fq.gz", "fastq_r2": None, "coverage": 45},
        ],
    }
    return {**fields, **overrides}


def test_generate_gives_every_format_of_the_form(alice, bucket):
    response = alice.post(GENERATE, form(), format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["problems"] == []
    assert body["spec"]["max_retries"] == 4 and body["spec"]["spec_version"] == 1
    samples_yaml = yaml.safe_load(body["yaml"])
    assert samples_yaml["estimated_coverage"] == 30 and samples_yaml["max_retries"] == 4
    work = yaml.safe_load(body["daylily_work_yaml"])
    assert work["dy-r"] == Pipeline.objects.get(code="germline").command
    assert work["export_uri"] == f"s3://{bucket.name}/results/giab-trio/"
    assert "giab-trio" in work["day-clone"]
    header, first, second = body["stage_samples_tsv"].splitlines()
    assert len(header.split("\t")) == 20 and f"s3://{bucket.name}/in/HG002_R1.fq.gz" in first


@pytest.mark.parametrize("kind", ["yaml", "daylily"])
def test_generate_then_parse_gives_the_same_spec(alice, kind):
    generated = alice.post(GENERATE, form(), format="json").json()
    if kind == "yaml":
        body = {"text": generated["yaml"]}
    else:
        body = {"text": generated["daylily_work_yaml"], "sample_sheet": generated["stage_samples_tsv"],
                "name": "GIAB trio", "reference_genome": "GRCh38", "priority": "normal", "max_retries": 4,
                "coverage": 30}  # fmt: skip
    parsed = alice.post(PARSE, body, format="json")
    assert parsed.status_code == 200, parsed.content
    expected = generated["spec"]
    if kind == "daylily":  # the sheet carries no per-sample coverage; the export location is made explicit
        expected = {**expected, "export_uri": parsed.json()["spec"]["export_uri"],
                    "samples": [{**s, "coverage": None} for s in expected["samples"]]}  # fmt: skip
    assert parsed.json()["spec"] == expected
    assert parsed.json()["format"] == ("samples_yaml" if kind == "yaml" else "daylily_work")


def test_generate_shows_what_is_wrong_and_keeps_an_unknown_priority(alice):
    body = alice.post(GENERATE, form(priority="high", pipeline="nope", name="x"), format="json").json()
    fields = {problem["field"] for problem in body["problems"]}
    assert {"priority", "pipeline", "name"} <= fields
    assert body["spec"]["priority"] == "high" and "priority: high" in body["yaml"]
    assert body["daylily_work_yaml"] is None


def test_generate_accepts_a_canonical_spec(alice):
    spec = alice.post(GENERATE, form(), format="json").json()["spec"]
    again = alice.post(GENERATE, {"spec": spec}, format="json").json()
    assert again["spec"] == spec


def test_generate_refuses_a_body_that_is_not_an_object(alice):
    response = alice.post(GENERATE, [1, 2], format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_a_viewer_may_generate_and_parse(api_for, world):
    carol = api_for(world.carol)
    assert carol.post(GENERATE, form(), format="json").status_code == 200
    assert carol.post(PARSE, {"text": "name: x-run\n"}, format="json").status_code == 200


def test_parse_reads_an_uploaded_sample_sheet_with_fields(alice, bucket):
    generated = alice.post(GENERATE, form(), format="json").json()
    upload = io.BytesIO(generated["stage_samples_tsv"].encode())
    upload.name = "stage_samples.tsv"
    data = {
        "file": upload,
        "name": "sheet run",
        "pipeline": "wgs",
        "reference_genome": "hg38",
        "max_retries": "2",
    }
    response = alice.post(PARSE, data, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["format"] == "stage_samples_tsv"
    assert body["spec"]["samples"][0]["fastq_r1"] == "in/HG002_R1.fq.gz"  # own bucket: back to a key
    assert body["spec"]["max_retries"] == 2 and body["problems"] == []


def test_parse_answers_400_with_the_line_and_field(alice):
    response = alice.post(PARSE, {"text": "name: x\nsamples:\n  - HG002\n"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "format_error" and error["line"] == 3
    assert "samples[0]" in error["fields"]


def test_parse_reports_missing_tsv_columns(alice):
    response = alice.post(PARSE, {"text": "RUN_ID\tSAMPLE_ID\tR1_FQ\nR0\tS1\ta.fq\n"}, format="json")
    assert response.status_code == 400
    assert "Missing columns" in response.json()["error"]["message"]


def test_parse_needs_a_document(alice):
    response = alice.post(PARSE, {}, format="json")
    assert response.status_code == 400 and "text" in response.json()["error"]["fields"]


def test_discover_pairs_the_fastqs_under_a_prefix(alice, bucket):
    prefix = f"d-{uuid4().hex[:8]}/"
    names = ["HG002/HG002_S1_L001_R1_001.fastq.gz", "HG002/HG002_S1_L001_R2_001.fastq.gz", "SRR1_1.fq.gz",
             "SRR1_2.fq.gz", "lonely_R1.fq.gz", "notes.txt"]  # fmt: skip
    put(bucket, *(prefix + name for name in names))
    response = alice.get(DISCOVER, {"prefix": prefix})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["prefix"] == prefix and body["truncated"] is False
    assert [s["sample_id"] for s in body["samples"]] == ["HG002", "SRR1"]
    assert body["samples"][0]["fastq_r1"] == f"{prefix}HG002/HG002_S1_L001_R1_001.fastq.gz"
    assert body["unpaired"] == [f"{prefix}lonely_R1.fq.gz"]
    same = alice.get(DISCOVER, {"prefix": f"s3://{bucket.name}/{prefix}"}).json()
    assert same["samples"] == body["samples"]


def test_discover_refuses_another_bucket_and_tricks(alice, world):
    other = Bucket.objects.get(tenant=world.other)
    for prefix in (f"s3://{other.name}/", "../", "%2e%2e/x"):
        response = alice.get(DISCOVER, {"prefix": prefix})
        assert response.status_code == 400, prefix
        assert "prefix" in response.json()["error"]["fields"]


def test_discover_in_another_tenant_answers_404(api_for, client_for, world):
    mallory = api_for(world.mallory, tenant=world.tenant, token_tenant=world.other)
    assert mallory.get(DISCOVER, {"prefix": ""}).status_code == 401
    browser = client_for(world.mallory, world.tenant)
    for route in (DISCOVER, GENERATE, PARSE):
        assert browser.get(route).status_code == 404
        assert browser.post(route, {}, content_type="application/json").status_code == 404
    assert browser.get("/worksets/generator/").status_code == 404


def test_beta_never_sees_alphas_files(api_for, world, bucket):
    prefix = f"x-{uuid4().hex[:8]}/"
    put(bucket, f"{prefix}a_R1.fq", f"{prefix}a_R2.fq")
    mallory = api_for(world.mallory, tenant=world.other)
    body = mallory.get(DISCOVER, {"prefix": prefix}).json()
    assert body["samples"] == [] and body["unpaired"] == []


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_the_generator_page_renders_for_every_role_with_the_catalogue(client_for, world, persona):
    response = client_for(getattr(world, persona)).get("/worksets/generator/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="germline"' in page and 'value="GRCh38"' in page and 'value="urgent"' in page
    assert "<script>" not in page and "js/generator.js" in page  # no inline script: the CSP forbids them
    assert 'href="/worksets/generator/" aria-current="page"' in page
    assert 'id="g-check"' in page and 'data-validate="/api/v1/worksets/validate"' in page
    assert ('id="g-submit"' in page) == (persona != "carol")  # viewers check but never submit


NO_SURROGATES = st.characters(blacklist_categories=("Cs",))  # the test client cannot encode them
TEXTS = st.text(
    alphabet=st.sampled_from(list("ab-_:#&*!|>'\"[]{},?% \t\n0123.")) | NO_SURROGATES, max_size=120
)
LONE_SURROGATES = [
    '{"text": "name: \\ud800"}',
    '{"text": "\\ud800: 1"}',
    '{"text": "x", "sample_sheet": "\\udfff"}',
]
BODIES = st.dictionaries(
    st.sampled_from(["name", "pipeline", "samples", "priority", "max_retries", "coverage", "spec", "x"]),
    st.none()
    | st.integers()
    | st.text(alphabet=NO_SURROGATES, max_size=8)
    | st.lists(st.integers() | st.text(alphabet=NO_SURROGATES, max_size=5), max_size=3),
    max_size=5,
)
ENDPOINT_EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@ENDPOINT_EXAMPLES
@given(text=TEXTS, sheet=st.none() | TEXTS)
def test_parse_never_answers_500(alice, text, sheet):
    body = {"text": text} if sheet is None else {"text": text, "sample_sheet": sheet}
    assert alice.post(PARSE, body, format="json").status_code in (200, 400)


@ENDPOINT_EXAMPLES
@given(body=BODIES)
def test_generate_never_answers_500(alice, body):
    assert alice.post(GENERATE, body, format="json").status_code == 200


@pytest.mark.parametrize("raw", LONE_SURROGATES)
@pytest.mark.parametrize("route", [PARSE, GENERATE, "/api/v1/worksets/validate", "/api/v1/worksets"])
def test_a_lone_surrogate_is_a_400_not_a_500(alice, raw, route):
    response = alice.post(route, raw, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


def test_a_nul_in_a_name_is_an_unknown_name_not_a_500(alice):
    body = alice.post(
        GENERATE, form(pipeline="germ\x00line", reference_genome="hg\x0038"), format="json"
    ).json()
    assert {"pipeline", "reference_genome"} <= {problem["field"] for problem in body["problems"]}
    parsed = alice.post(PARSE, {"text": 'name: x-run\npipeline: "a\\0b"\n'}, format="json")
    assert parsed.status_code == 200 and parsed.json()["spec"]["pipeline"] == "a\x00b"
