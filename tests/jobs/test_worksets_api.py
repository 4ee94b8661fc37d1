"""/api/v1/worksets with a token: submit, list with filters and cursor pages, read, and move worksets."""

import io
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from jobs.models import State, Workset
from tenants.models import Bucket, Quota
from tenants.storage import storage_for
from tests.builders import make_workset, workset_spec

pytestmark = pytest.mark.django_db
URL = "/api/v1/worksets"


@pytest.fixture
def uploaded(world):
    """A spec whose FASTQs are in alpha's bucket (under a prefix of this test: the bucket outlives it)."""
    prefix = f"ws-{uuid4().hex[:8]}/"
    storage = storage_for(Bucket.objects.get(tenant=world.tenant))
    spec = workset_spec(samples=2)
    for sample in spec["samples"]:
        for read in ("fastq_r1", "fastq_r2"):
            sample[read] = prefix + sample[read]
            storage.upload(sample[read], io.BytesIO(b"@r\nACGT\n+\nIIII\n"))
    return spec


def count_worksets(tenant) -> int:
    with tenant_context(tenant):
        return Workset.objects.count()


def test_a_member_submits_with_a_token_and_it_is_queued_with_report_and_estimate(api_for, world, uploaded):
    response = api_for(world.bob).post(URL, {"spec": uploaded}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "queued" and body["submitted_by"] == "bob@example.com"
    assert body["code"].startswith("giab-batch-") and len(body["code"]) == len("giab-batch-") + 8
    assert body["validation"]["valid"] and body["validation"]["dry_run"] is False
    assert body["estimate"]["basis"] == "from catalogue constants" and body["estimate"]["cost_usd"]
    assert [t["to_state"] for t in body["transitions"]] == ["draft", "validated", "queued"]
    assert body["spec"]["reference_genome"] == "GRCh38"  # hg38, stored under its canonical name
    with tenant_context(world.tenant):
        stored = Workset.objects.get(code=body["code"])
        assert stored.estimate == body["estimate"] and stored.sample_count == 2


def test_a_yaml_body_is_accepted(api_for, world, uploaded):
    import yaml

    response = api_for(world.bob).post(URL, {"yaml": yaml.safe_dump(uploaded)}, format="json")
    assert response.status_code == 201, response.content


def test_an_invalid_spec_answers_400_with_field_messages_and_saves_nothing(api_for, world):
    before = count_worksets(world.tenant)
    spec = workset_spec(samples=2, pipeline="germlin", priority="high")
    spec["samples"][1]["sample_id"] = spec["samples"][0]["sample_id"]
    response = api_for(world.bob).post(URL, {"spec": spec}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    fields = error["fields"]
    assert fields["priority"][0].startswith("WS-CFG-001")
    assert "did you mean “germline”" in fields["pipeline"][0]
    assert fields["samples[1].sample_id"][0].startswith("WS-CFG-006")
    assert count_worksets(world.tenant) == before


def test_a_fastq_missing_from_the_bucket_is_named_with_its_fix(api_for, world, uploaded):
    uploaded["samples"][1]["fastq_r2"] = "inputs/nowhere_R2.fastq.gz"
    response = api_for(world.bob).post(URL, {"spec": uploaded}, format="json")
    assert response.status_code == 400
    message = response.json()["error"]["fields"]["samples[1].fastq_r2"][0]
    assert message.startswith("WS-CFG-004: not found in bucket") and "(fix: upload it" in message


def test_a_fastq_outside_the_bucket_is_refused(api_for, world):
    spec = workset_spec()
    spec["samples"][0]["fastq_r1"] = "s3://someone-elses-bucket/x_R1.fastq.gz"
    response = api_for(world.bob).post(URL, {"spec": spec}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["samples[0].fastq_r1"][0].startswith("WS-CFG-005")


def test_spec_or_yaml_is_required(api_for, world):
    response = api_for(world.bob).post(URL, {}, format="json")
    assert response.status_code == 400 and "spec" in response.json()["error"]["fields"]


def test_the_list_filters_by_state_pipeline_submitter_and_date(api_for, world):
    queued = make_workset(world.tenant, state="queued", actor=world.bob)
    failed = make_workset(world.tenant, state="failed", actor=world.alice, pipeline="somatic")
    archived = make_workset(world.tenant, state="archived")
    api = api_for(world.carol)

    def codes(query=""):
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return {row["code"] for row in response.json()["results"]}

    assert {queued.code, failed.code} <= codes() and archived.code not in codes()
    assert codes("state=failed") == {failed.code}
    assert archived.code in codes("state=archived")
    assert codes("state=queued&state=failed") >= {queued.code, failed.code}
    assert failed.code in codes("pipeline=somatic") and queued.code not in codes("pipeline=somatic")
    assert codes("submitter=BOB@example.com") == {queued.code}
    today = queued.created_at.date().isoformat()
    assert {queued.code, failed.code} <= codes(f"created_after={today}&created_before={today}")
    assert codes("created_before=2000-01-01") == set()
    assert api.get(f"{URL}?state=nonsense").status_code == 400


def test_the_list_pages_with_cursors_and_its_query_count_does_not_grow(api_for, world):
    api = api_for(world.carol)
    make_workset(world.tenant, actor=world.bob)
    api.get(URL)  # the token's first use records it once
    with CaptureQueriesContext(connection) as few:
        assert api.get(URL).status_code == 200
    for _ in range(5):
        make_workset(world.tenant, actor=world.bob)
    with CaptureQueriesContext(connection) as many:
        page = api.get(f"{URL}?page_size=4").json()
    assert len(many) == len(few), [q["sql"] for q in many]
    assert len(page["results"]) == 4 and page["next"]
    rest = api.get(page["next"]).json()
    seen = {row["code"] for row in page["results"]}
    assert rest["results"] and not seen & {row["code"] for row in rest["results"]}


def test_retrieve_by_code_shows_spec_report_estimate_and_history(api_for, world):
    workset = make_workset(world.tenant, state="completed", actor=world.bob)
    body = api_for(world.carol).get(f"{URL}/{workset.code}").json()
    assert body["code"] == workset.code and body["state"] == "completed"
    assert body["spec"]["samples"][0]["sample_id"] == "HG001"
    assert body["validation"]["valid"] and body["estimate"]["basis"]
    assert [t["to_state"] for t in body["transitions"]][-1] == "completed"
    assert body["transitions"][0]["actor"] == "bob@example.com"


def test_cancel_archive_restore_and_retry_through_the_api(api_for, world):
    api = api_for(world.bob)
    workset = make_workset(world.tenant, state="queued")
    cancelled = api.post(f"{URL}/{workset.code}/cancel", {"reason": "typo"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["transitions"][-1]["reason"] == "typo"
    again = api.post(f"{URL}/{workset.code}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"
    assert api.post(f"{URL}/{workset.code}/archive").json()["state"] == "archived"
    assert api.post(f"{URL}/{workset.code}/restore").json()["state"] == "cancelled"
    assert api.post(f"{URL}/{workset.code}/restore").status_code == 409


def test_retry_of_a_failed_workset_is_a_new_one(api_for, world, uploaded):
    api = api_for(world.bob)
    code = api.post(URL, {"spec": uploaded}, format="json").json()["code"]
    with tenant_context(world.tenant):
        workset = Workset.objects.get(code=code)
        for step in ("dispatched", "running", "failed"):
            workset.transition_to(step)
    response = api.post(f"{URL}/{code}/retry")
    assert response.status_code == 201, response.content
    retry = response.json()
    assert retry["code"] != code and retry["retry_of"] == code
    assert retry["attempt"] == 2 and retry["state"] == "queued"
    assert api.get(f"{URL}/{code}").json()["retries"] == [retry["code"]]
    assert api.post(f"{URL}/{retry['code']}/retry").status_code == 409  # queued: nothing to retry


def test_viewers_read_but_cannot_submit_or_move(api_for, world):
    workset = make_workset(world.tenant, state="queued")
    api = api_for(world.carol)
    assert api.get(f"{URL}/{workset.code}").status_code == 200
    assert api.post(URL, {"spec": workset_spec()}, format="json").status_code == 403
    assert api.post(f"{URL}/{workset.code}/cancel").status_code == 403
    with tenant_context(world.tenant):
        assert Workset.objects.get(pk=workset.pk).state == State.QUEUED


def test_only_owners_approve_a_held_workset(api_for, world):
    Quota.objects.filter(tenant=world.tenant).update(billing_hold=True)
    workset = make_workset(world.tenant, actor=world.bob)
    assert workset.state == State.BILLING_HOLD
    Quota.objects.filter(tenant=world.tenant).update(billing_hold=False)
    assert api_for(world.bob).post(f"{URL}/{workset.code}/approve").status_code == 403
    response = api_for(world.alice).post(f"{URL}/{workset.code}/approve")
    assert response.status_code == 200 and response.json()["state"] == "queued"


def test_a_member_of_another_tenant_gets_404_on_a_workset_by_code(api_for, client_for, world):
    workset = make_workset(world.tenant, state="failed")
    mallory = api_for(world.mallory, tenant=world.other)
    assert mallory.get(f"{URL}/{workset.code}").status_code == 404  # beta's host: no such workset
    for action in ("submit", "cancel", "retry", "archive"):
        assert mallory.post(f"{URL}/{workset.code}/{action}").status_code == 404
    assert mallory.get(f"{URL}/{workset.code}/diagnosis").status_code == 404
    assert workset.code not in {r["code"] for r in mallory.get(URL).json()["results"]}
    on_alpha = client_for(world.mallory, world.tenant)
    assert on_alpha.get(f"{URL}/{workset.code}").status_code == 404
    assert on_alpha.post(f"{URL}/{workset.code}/cancel").status_code == 404
    with tenant_context(world.tenant):
        assert Workset.objects.get(pk=workset.pk).state == State.FAILED


def test_the_openapi_schema_lists_the_worksets_endpoints(client_for, world):
    schema = client_for(world.carol).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = schema.json()["paths"]
    assert {"/api/v1/worksets", "/api/v1/worksets/{code}", "/api/v1/worksets/{code}/retry"} <= set(paths)


def test_unreadable_yaml_answers_400_on_the_yaml_field(api_for, world):
    before = count_worksets(world.tenant)
    response = api_for(world.bob).post(URL, {"yaml": "name: [unclosed"}, format="json")
    assert response.status_code == 400
    assert "yaml" in response.json()["error"]["fields"]
    assert count_worksets(world.tenant) == before
