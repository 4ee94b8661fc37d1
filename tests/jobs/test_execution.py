"""Worksets run for real, end to end: submitted through the API, placed by the dispatcher on a local cluster,
run as subprocesses, followed by the pollers, published to alpha's bucket (moto S3 server), booked in the
usage ledger; a failing one is diagnosed, retried from its failed step with backoff, and dead-lettered.

Celery is eager here and the test drives the periodic tasks (dispatch, poll) itself, as beat would."""

import io
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from django_tenants.utils import tenant_context

from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from jobs.models import State, Workset
from jobs.tasks import dispatch_task, poll_runs_task, send_in_schema
from tenants import demo_data
from tenants.models import RateCard, UsageRecord
from tenants.storage import storage_for

pytestmark = pytest.mark.django_db
SETTLED = {State.COMPLETED, State.DEAD_LETTER, State.CANCELLED}


@pytest.fixture
def home(settings, tmp_path):
    """Runs under this test's directory, retries without waiting; runs left over are cancelled after."""
    from jobs.backends.local import LocalBackend

    settings.RUNYARD_HOME = tmp_path
    settings.RUNYARD_RETRY_BASE_SECONDS = 0
    yield tmp_path
    local = LocalBackend(tmp_path)
    for run_dir in tmp_path.glob("runs/*/*"):
        local.cancel({"backend": "local", "run_dir": str(run_dir)})


@pytest.fixture
def cluster(db, bucket):
    return Cluster.objects.create(
        name="local-1", backend="local", region=bucket.region or "us-east-1", usd_per_vcpu_hour="0.05"
    )


@pytest.fixture
def inputs(bucket):
    """The demo trio's FASTQ pairs in alpha's bucket, under a prefix of this test; spec samples."""
    prefix = f"ex-{uuid4().hex[:8]}/"
    storage = storage_for(bucket)
    samples = []
    for sample in demo_data.SAMPLES:
        keys = [prefix + key for key in demo_data.fastq_keys(sample)]
        for key, data in zip(keys, demo_data.fastq_pair(sample), strict=True):
            storage.upload(key, io.BytesIO(data))
        samples.append({"sample_id": sample, "fastq_r1": keys[0], "fastq_r2": keys[1]})
    return samples


def spec(samples, pipeline: str, **overrides) -> dict:
    name = f"{pipeline} run"
    return {"spec_version": 1, "name": name, "pipeline": pipeline, "reference_genome": "GRCh38"} | {
        "samples": samples,
        **overrides,
    }


@pytest.fixture
def submit(alice, django_capture_on_commit_callbacks):
    """POST a spec as alice (side effects after commit run, as they would); returns the code."""

    def post(document) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = alice.post("/api/v1/worksets", {"spec": document}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["code"]

    return post


@pytest.fixture
def drive(world, django_capture_on_commit_callbacks):
    """Run the periodic tasks (as beat would) until the workset reaches a state of ``until``."""

    def run(code: str, until=SETTLED, timeout: float = 90) -> Workset:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with django_capture_on_commit_callbacks(execute=True):
                send_in_schema("public", dispatch_task)
                send_in_schema("public", poll_runs_task)
            with tenant_context(world.tenant):
                workset = Workset.objects.get(code=code)
            if workset.state in until:
                return workset
            time.sleep(0.1)
        raise AssertionError(f"{code} is still {workset.state} after {timeout}s")

    return run


def test_a_qc_workset_runs_step_by_step_to_completion_with_results_usage_and_cost(
    world, alice, bucket, cluster, inputs, home, submit, drive
):
    code = submit(spec(inputs, "fastq_qc"))
    workset = drive(code)

    assert workset.state == State.COMPLETED
    body = alice.get(f"/api/v1/worksets/{code}").json()
    assert body["cluster"] == "local-1"
    assert body["dispatch_reason"].startswith("Placed on local-1")
    assert [(s["name"], s["status"]) for s in body["steps"]] == [
        ("qc", "succeeded"),
        ("summarise", "succeeded"),
    ]
    assert body["progress"] == 100
    path = [t["to_state"] for t in body["transitions"]]
    assert path == ["draft", "validated", "queued", "dispatched", "running", "completed"]
    keys = {item.key for item in storage_for(bucket).list(f"results/{code}/qc/").objects}
    assert f"results/{code}/qc/summary.tsv" in keys
    assert {f"results/{code}/qc/{sample}.json" for sample in demo_data.SAMPLES} <= keys

    measured = Decimal(body["measured_vcpu_hours"])
    assert measured == sum(Decimal(s["vcpu_hours"]) for s in body["steps"])
    booked = UsageRecord.objects.filter(tenant=world.tenant, reference__startswith=f"{code}/")
    assert {r.reference for r in booked} == {f"{code}/qc", f"{code}/summarise"}
    assert all(r.basis == "measured" and r.kind == "vcpu_hours" for r in booked)
    assert sum(r.quantity for r in booked) == measured
    rate = RateCard.in_force(date.today()).vcpu_hour_normal  # the tenant's price, not the provider's
    assert Decimal(body["measured_cost_usd"]) == (measured * rate).quantize(Decimal("0.0001"))
    assert not QueueEntry.objects.filter(workset_code=code).exists()  # its place is given back
    assert SlotCounter.objects.get(scope=f"cluster:{cluster.pk}").used == 0


def test_a_failing_workset_retries_from_its_failed_step_then_lands_in_the_dead_letter_queue(
    world, alice, cluster, inputs, home, submit, drive
):
    code = submit(spec(inputs[:1], "test_fail", max_retries=2))
    workset = drive(code)

    assert workset.state == State.DEAD_LETTER
    assert (workset.auto_retries, workset.failed_step, workset.failure_code) == (2, "transfer", "WS-NET-001")
    with tenant_context(world.tenant):
        reasons = list(workset.transitions.values_list("to_state", "reason"))
    retries = [reason for state, reason in reasons if state == State.RETRY_WAIT]
    assert len(retries) == 2 and "resuming from step transfer" in retries[0]
    assert reasons[-1][0] == State.DEAD_LETTER and "2 automatic retries used" in reasons[-1][1]
    # The succeeded step ran once; the failed one ran once per attempt (1 + 2 retries).
    logs = Path(workset.run_handle["run_dir"]) / "logs"
    assert (logs / "prepare.log").read_text().count("--- ") == 1
    assert (logs / "transfer.log").read_text().count("--- ") == 3

    diagnosis = alice.get(f"/api/v1/worksets/{code}/diagnosis").json()["diagnosis"]
    assert (diagnosis["code"], diagnosis["failure_class"], diagnosis["step"]) == (
        "WS-NET-001",
        "transient",
        "transfer",
    )
    assert diagnosis["remediation"] and "WS-NET-001" in diagnosis["text"]
    entry = QueueEntry.objects.get(workset_code=code)
    assert (entry.status, entry.failure_code) == ("dead_letter", "WS-NET-001")


def test_a_data_failure_is_not_retried(world, alice, bucket, cluster, inputs, home, submit, drive):
    key = inputs[0]["fastq_r1"]
    storage_for(bucket).upload(key, io.BytesIO(b"@read1\nACGT\n+\nII\n"))  # quality shorter than sequence
    code = submit(spec(inputs[:1], "fastq_qc"))
    workset = drive(code)
    assert (workset.state, workset.failure_code, workset.auto_retries) == (State.DEAD_LETTER, "WS-DAT-001", 0)


def test_mallory_cannot_read_alphas_diagnosis(world, api_for, alice, cluster, inputs, home, submit, drive):
    code = submit(spec(inputs[:1], "test_fail", max_retries=0))
    drive(code)
    mallory = api_for(world.mallory, world.other)
    assert mallory.get(f"/api/v1/worksets/{code}/diagnosis").status_code == 404
    assert alice.get(f"/api/v1/worksets/{code}/diagnosis").status_code == 200
