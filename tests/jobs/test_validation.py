"""POST /api/v1/worksets/validate: every problem code, through the API, against moto's S3 server.

The bucket outlives each test's transaction, so every test uploads under a prefix of its own.
"""

import io
from datetime import date
from uuid import uuid4

import pytest
from django_tenants.utils import tenant_context

from jobs.catalog.models import Pipeline, ReferenceGenome
from jobs.models import State, Workset
from jobs.validation import CODES
from tenants.models import Bucket, BudgetAlert, Quota
from tenants.services.quotas import quota_of
from tenants.storage import storage_for

VALIDATE = "/api/v1/worksets/validate"
OUTSIDE = [
    "../x_R1.fastq.gz",
    "/etc/passwd",
    "a/../../b.fq",
    "%2e%2e/x.fq",
    "..%2fx.fq",
    "https://x.org/a.fq",
]


@pytest.fixture
def prefix() -> str:
    return f"v-{uuid4().hex[:10]}/"


def put(bucket: Bucket, *keys: str) -> None:
    storage = storage_for(bucket)
    for key in keys:
        storage.upload(key, io.BytesIO(b"@r\nACGT\n+\nIIII\n"))


def make_spec(prefix: str, count: int = 2, **overrides) -> dict:
    samples = [
        {
            "sample_id": f"HG00{n}",
            "fastq_r1": f"{prefix}HG00{n}_R1.fastq.gz",
            "fastq_r2": f"{prefix}HG00{n}_R2.fastq.gz",
        }
        for n in range(1, count + 1)
    ]
    return {"spec_version": 1, "name": "GIAB batch", "pipeline": "germline", "reference_genome": "GRCh38"} | {
        "samples": samples,
        **overrides,
    }


def uploaded_spec(bucket: Bucket, prefix: str, count: int = 2, **overrides) -> dict:
    spec = make_spec(prefix, count, **overrides)
    put(bucket, *(s[f] for s in spec["samples"] for f in ("fastq_r1", "fastq_r2")))
    return spec


def validate(api, body, **flags):
    query = "&".join(f"{k}={str(v).lower()}" for k, v in flags.items())
    response = api.post(f"{VALIDATE}?{query}" if query else VALIDATE, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def codes(report) -> list[str]:
    return [p["code"] for p in report["problems"]]


def only(report, code: str) -> dict:
    found = [p for p in report["problems"] if p["code"] == code]
    assert found, f"{code} not in {codes(report)}"
    return found[0]


def test_a_workset_of_uploaded_files_is_valid_with_its_canonical_spec_and_estimate(alice, bucket, prefix):
    report = validate(alice, uploaded_spec(bucket, prefix, reference_genome="hg38"))
    assert report["valid"] and report["problems"] == []
    assert report["spec"]["reference_genome"] == "GRCh38"
    assert report["spec"]["priority"] == "normal" and report["spec"]["max_retries"] == 3
    assert report["estimate"]["basis"] == "from catalogue constants"
    assert report["estimate"]["label"] == "estimated"


def test_a_path_naming_the_tenant_bucket_is_accepted(alice, bucket, prefix):
    spec = uploaded_spec(bucket, prefix, count=1)
    spec["samples"][0]["fastq_r1"] = f"s3://{bucket.name}/{spec['samples'][0]['fastq_r1']}"
    assert validate(alice, spec)["valid"]


def test_schema_violations_name_each_field(alice, prefix):
    spec = make_spec(prefix, name="x", priority="asap", max_retries=11)
    spec["samples"][1]["fastq_r1"] = ""
    report = validate(alice, spec)
    assert not report["valid"] and report["spec"] is None and report["estimate"] is None
    fields = {p["field"] for p in report["problems"] if p["code"] == "WS-CFG-001"}
    assert {"name", "priority", "max_retries", "samples[1].fastq_r1"} <= fields
    assert all(p["severity"] == "error" for p in report["problems"])


def test_an_unknown_pipeline_suggests_the_nearest(alice, prefix):
    problem = only(validate(alice, make_spec(prefix, pipeline="germlin"), dry_run=True), "WS-CFG-002")
    assert problem["field"] == "pipeline" and "germline" in problem["fix"]


def test_an_unknown_reference_suggests_the_canonical_name(alice, prefix):
    problem = only(validate(alice, make_spec(prefix, reference_genome="hg-19"), dry_run=True), "WS-CFG-003")
    assert problem["field"] == "reference_genome" and "GRCh37" in problem["fix"]
    problem = only(validate(alice, make_spec(prefix, reference_genome="mouse"), dry_run=True), "WS-CFG-003")
    assert "GRCm39" in problem["fix"]


def test_names_with_control_characters_are_unknown_not_a_server_error(alice, prefix):
    report = validate(
        alice, make_spec(prefix, pipeline="germ\x00line", reference_genome="\x00"), dry_run=True
    )
    assert {"WS-CFG-002", "WS-CFG-003"} <= set(codes(report))


def test_a_missing_fastq_is_named_by_its_field(alice, bucket, prefix):
    spec = uploaded_spec(bucket, prefix, count=3)
    spec["samples"][2]["fastq_r1"] = f"{prefix}missing_R1.fastq.gz"
    report = validate(alice, spec)
    assert not report["valid"] and codes(report) == ["WS-CFG-004"]
    assert report["problems"][0]["text"] == (
        "WS-CFG-004 samples[2].fastq_r1: not found in bucket (fix: upload it or correct the path)"
    )


@pytest.mark.parametrize("raw", OUTSIDE)
def test_it_refuses_fastq_outside_the_tenant_bucket(alice, prefix, raw):
    spec = make_spec(prefix, count=1)
    spec["samples"][0]["fastq_r2"] = raw
    report = validate(alice, spec, dry_run=True)
    assert not report["valid"]
    assert only(report, "WS-CFG-005")["field"] == "samples[0].fastq_r2"


def test_it_refuses_another_tenants_bucket_even_in_a_dry_run(api_for, world, prefix):
    alpha_bucket = Bucket.objects.get(tenant=world.tenant).name
    spec = make_spec(prefix, count=1)
    spec["samples"][0]["fastq_r1"] = f"s3://{alpha_bucket}/{prefix}HG001_R1.fastq.gz"
    report = validate(api_for(world.mallory, world.other), spec, dry_run=True)
    assert only(report, "WS-CFG-005")["field"] == "samples[0].fastq_r1"
    spec["samples"][0]["fastq_r1"] = "s3://other-bucket/x_R1.fastq.gz"
    assert "WS-CFG-005" in codes(validate(api_for(world.mallory, world.other), spec, dry_run=True))


def test_duplicate_sample_ids_point_at_the_second(alice, prefix):
    spec = make_spec(prefix, count=3)
    spec["samples"][2]["sample_id"] = "HG001"
    problem = only(validate(alice, spec, dry_run=True), "WS-CFG-006")
    assert problem["field"] == "samples[2].sample_id" and "samples[0]" in problem["message"]


def test_r1_and_r2_must_differ(alice, prefix):
    spec = make_spec(prefix, count=1)
    spec["samples"][0]["fastq_r2"] = f"{prefix}/HG001_R1.fastq.gz"  # the same key once cleaned
    assert only(validate(alice, spec, dry_run=True), "WS-CFG-007")["field"] == "samples[0].fastq_r2"


def test_a_disabled_pipeline_is_refused(alice, prefix):
    Pipeline.objects.filter(code="wes").update(enabled=False)
    assert only(validate(alice, make_spec(prefix, pipeline="wes"), dry_run=True), "WS-CFG-008")


def test_a_disabled_reference_is_refused(alice, prefix):
    ReferenceGenome.objects.filter(code="T2T-CHM13").update(enabled=False)
    report = validate(alice, make_spec(prefix, reference_genome="chm13"), dry_run=True)
    assert only(report, "WS-CFG-009")["field"] == "reference_genome"


def test_unusual_coverage_is_a_warning_and_strict_mode_makes_it_an_error(alice, bucket, prefix):
    spec = uploaded_spec(bucket, prefix, count=2)
    spec["samples"][1]["coverage"] = 500
    report = validate(alice, spec)
    problem = only(report, "WS-CFG-010")
    assert report["valid"] and problem["severity"] == "warning" and problem["field"] == "samples[1].coverage"
    strict = validate(alice, spec, strict=True)
    assert not strict["valid"] and only(strict, "WS-CFG-010")["severity"] == "error"


def test_a_preferred_cluster_must_be_registered_and_enabled(alice, prefix):
    from jobs.catalog.models import Cluster

    unknown = only(
        validate(alice, make_spec(prefix, preferred_cluster="gpu-east"), dry_run=True), "WS-CFG-012"
    )
    assert unknown["field"] == "preferred_cluster" and "no cluster is registered" in unknown["fix"]
    Cluster.objects.create(name="slurm-west", backend="slurm", region="us-west-2", usd_per_vcpu_hour="0.03")
    Cluster.objects.create(
        name="old-east", backend="slurm", region="us-east-1", usd_per_vcpu_hour="0.05", enabled=False
    )
    assert (
        "slurm-west"
        in only(validate(alice, make_spec(prefix, preferred_cluster="gpu"), dry_run=True), "WS-CFG-012")[
            "fix"
        ]
    )
    disabled = validate(alice, make_spec(prefix, preferred_cluster="old-east"), dry_run=True)
    assert only(disabled, "WS-CFG-013")["severity"] == "error"
    fine = validate(alice, make_spec(prefix, preferred_cluster="slurm-west"), dry_run=True)
    assert not {"WS-CFG-012", "WS-CFG-013"} & set(codes(fine))


def test_an_export_location_outside_the_bucket_is_refused(alice, bucket, prefix):
    report = validate(alice, make_spec(prefix, export_uri="s3://other-bucket/results/"), dry_run=True)
    assert only(report, "WS-CFG-011")["field"] == "export_uri"
    inside = validate(alice, make_spec(prefix, export_uri=f"s3://{bucket.name}/results/"), dry_run=True)
    assert "WS-CFG-011" not in codes(inside)


def test_a_dry_run_skips_the_bucket_but_a_real_run_does_not(alice, prefix):
    spec = make_spec(prefix)
    assert validate(alice, spec, dry_run=True)["valid"]
    assert codes(validate(alice, spec)) == ["WS-CFG-004"] * 4


def test_a_tenant_without_a_bucket_cannot_be_checked(alice, world, prefix):
    Bucket.objects.filter(tenant=world.tenant).delete()
    report = validate(alice, make_spec(prefix))
    assert only(report, "WS-STO-001")["field"] == "samples"


def test_too_many_running_worksets_is_a_warning(alice, world, bucket, prefix):
    Quota.objects.filter(pk=quota_of(world.tenant).pk).update(max_concurrent_worksets=1)
    with tenant_context(world.tenant):
        Workset.objects.create(
            name="running", spec={}, pipeline="germline", sample_count=1, state=State.RUNNING
        )
    report = validate(alice, uploaded_spec(bucket, prefix))
    assert report["valid"] and only(report, "WS-QTA-001")["severity"] == "warning"
    assert not validate(alice, uploaded_spec(bucket, prefix), strict=True)["valid"]


def test_results_larger_than_the_storage_left_are_refused(alice, world, prefix):
    Quota.objects.filter(pk=quota_of(world.tenant).pk).update(max_storage_gb=1)
    problem = only(validate(alice, make_spec(prefix, coverage=30), dry_run=True), "WS-QTA-002")
    assert problem["severity"] == "error" and "1 GB" in problem["message"]


def test_a_billing_hold_warns_that_the_workset_will_wait(alice, world, prefix):
    Quota.objects.filter(pk=quota_of(world.tenant).pk).update(billing_hold=True)
    report = validate(alice, make_spec(prefix), dry_run=True)
    assert only(report, "WS-QTA-003")["severity"] == "warning" and report["valid"] is True


def test_a_spent_budget_needing_approval_is_a_warning(alice, world, prefix):
    Quota.objects.filter(pk=quota_of(world.tenant).pk).update(budget_action=Quota.BudgetAction.APPROVE)
    BudgetAlert.objects.create(
        tenant=world.tenant, month=date.today().replace(day=1), threshold=100, spent=100, budget=100
    )
    report = validate(alice, make_spec(prefix), dry_run=True)
    assert report["valid"] and only(report, "WS-QTA-004")["severity"] == "warning"


def test_an_estimate_above_the_workset_budget_is_refused(alice, prefix):
    report = validate(alice, make_spec(prefix, budget_usd=0.01), dry_run=True)
    assert only(report, "WS-QTA-005")["field"] == "budget_usd" and not report["valid"]


def test_every_code_in_the_catalogue_is_exercised_here():
    with open(__file__) as handle:
        source = handle.read()
    assert all(f'"{code}"' in source for code in CODES if code != "WS-CFG-001") and "WS-CFG-001" in source


def sample_yaml(prefix: str, pipeline: str, ids: list[str]) -> str:
    lines = [f"name: {pipeline} run", f"pipeline: {pipeline}", "reference_genome: hg38", "samples:"]
    for sample_id in ids:
        lines += [f"  - sample_id: {sample_id}", f"    fastq_r1: {prefix}{sample_id}_R1.fastq.gz"]
        lines += [f"    fastq_r2: {prefix}{sample_id}_R2.fastq.gz"]
    return "\n".join(lines) + "\n"


def test_a_seven_sample_giab_batch_in_the_sample_yaml_validates(alice, bucket, prefix):
    ids = [f"HG00{n}" for n in range(1, 8)]
    put(bucket, *(f"{prefix}{i}_R{r}.fastq.gz" for i in ids for r in (1, 2)))
    report = validate(alice, {"yaml": sample_yaml(prefix, "germline", ids) + "estimated_coverage: 30\n"})
    assert report["valid"], report["problems"]
    assert [s["sample_id"] for s in report["spec"]["samples"]] == ids
    assert report["spec"]["reference_genome"] == "GRCh38" and report["spec"]["coverage"] == 30


def test_a_single_sample_help_run_validates_and_costs_almost_nothing(alice, bucket, prefix):
    put(bucket, f"{prefix}HG002_R1.fastq.gz", f"{prefix}HG002_R2.fastq.gz")
    report = validate(alice, {"yaml": sample_yaml(prefix, "test_help", ["HG002"]), "strict": True})
    assert report["valid"] and report["strict"], report["problems"]
    assert report["spec"]["pipeline"] == "test_help" and len(report["spec"]["samples"]) == 1


def test_unreadable_yaml_is_a_400_naming_the_line(alice):
    response = alice.post(VALIDATE, {"yaml": "name: [unclosed\n"}, format="json")
    assert response.status_code == 400 and "line" in response.json()["error"]["fields"]["yaml"][0]


def test_a_daylily_work_yaml_validates_as_it_would_submit(alice):
    """Validate reads every format the worksets API accepts, so the two never disagree."""
    report = validate(alice, {"yaml": "dy-r: help\nexport_uri: results/\n"}, dry_run=True)
    schema = " ".join(p["message"] for p in report["problems"] if p["code"] == "WS-CFG-001")
    assert report["valid"] is False and "'samples' is a required property" in schema


@pytest.mark.parametrize("body", [[1, 2], "spec", 3, None])
def test_a_body_that_is_not_an_object_is_a_400(alice, body):
    response = alice.post(VALIDATE, body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_malformed_json_is_a_400(alice):
    response = alice.post(VALIDATE, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_flags_may_come_in_the_body_next_to_the_spec(alice, prefix):
    assert validate(alice, {"spec": make_spec(prefix), "dry_run": True})["valid"]
    assert validate(alice, {**make_spec(prefix), "dry_run": "true"})["dry_run"] is True
    bad = alice.post(VALIDATE, {"spec": make_spec(prefix), "strict": "maybe"}, format="json")
    assert bad.status_code == 400 and "strict" in bad.json()["error"]["fields"]


def test_a_viewer_may_validate(api_for, world, prefix):
    assert validate(api_for(world.carol), make_spec(prefix), dry_run=True)["valid"]


def test_a_member_of_another_tenant_gets_404(client_for, api_for, world, prefix):
    spec = make_spec(prefix)
    session = client_for(world.mallory, world.tenant)
    assert session.post(VALIDATE, spec, content_type="application/json").status_code == 404
    foreign_token = api_for(world.mallory, tenant=world.tenant, token_tenant=world.other)
    assert foreign_token.post(VALIDATE, spec, format="json").status_code == 401
