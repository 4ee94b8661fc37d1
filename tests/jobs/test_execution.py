"""Worksets run for real, end to end: submitted through the API, placed by the dispatcher on a local cluster,
run as subprocesses, followed by the pollers, published to alpha's bucket (moto S3 server), booked in the
usage ledger; a failing one is diagnosed, retried from its failed step with backoff, and dead-lettered.

Celery is eager here and the test drives the periodic tasks (dispatch, poll) itself, as beat would."""

import io
import json
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from jobs.models import State
from tenants import demo_data
from tenants.models import RateCard, UsageRecord
from tenants.storage import storage_for
from tests.builders import run_spec

pytestmark = pytest.mark.django_db


def test_a_qc_workset_runs_step_by_step_to_completion_with_results_usage_and_cost(
    world, alice, bucket, local_cluster, inputs, submit, drive
):
    code = submit(run_spec(inputs, "fastq_qc"))
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
    run_dir = Path(workset.run_handle["run_dir"])
    assert not (run_dir / "work" / "inputs").exists()  # staged copies removed; logs kept
    assert (run_dir / "logs" / "qc.log").exists()
    assert not QueueEntry.objects.filter(workset_code=code).exists()  # its place is given back
    assert SlotCounter.objects.get(scope=f"cluster:{local_cluster.pk}").used == 0


def test_a_failing_workset_retries_from_its_failed_step_then_lands_in_the_dead_letter_queue(
    world, alice, local_cluster, inputs, submit, drive
):
    code = submit(run_spec(inputs[:1], "test_fail", max_retries=2))
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


def test_a_data_failure_is_not_retried(world, alice, bucket, local_cluster, inputs, submit, drive):
    key = inputs[0]["fastq_r1"]
    storage_for(bucket).upload(key, io.BytesIO(b"@read1\nACGT\n+\nII\n"))  # quality shorter than sequence
    code = submit(run_spec(inputs[:1], "fastq_qc"))
    workset = drive(code)
    assert (workset.state, workset.failure_code, workset.auto_retries) == (State.DEAD_LETTER, "WS-DAT-001", 0)


def test_mallory_cannot_read_alphas_diagnosis(world, api_for, alice, local_cluster, inputs, submit, drive):
    code = submit(run_spec(inputs[:1], "test_fail", max_retries=0))
    drive(code)
    mallory = api_for(world.mallory, world.other)
    assert mallory.get(f"/api/v1/worksets/{code}/diagnosis").status_code == 404
    assert alice.get(f"/api/v1/worksets/{code}/diagnosis").status_code == 200


def test_cancelling_a_running_workset_stops_its_step_and_frees_its_place(
    world, alice, local_cluster, inputs, submit, drive, settings, django_capture_on_commit_callbacks
):
    from jobs.backends.local import LocalBackend, group_alive

    settings.RUNYARD_TEST_PIPELINE_SECONDS = 60
    code = submit(run_spec(inputs[:1], "test_help"))
    running = drive(code, until={State.RUNNING})
    backend = LocalBackend()
    pgid = wait_for_step_group(Path(running.run_handle["run_dir"]) / "steps" / "help.json")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(f"/api/v1/worksets/{code}/cancel", {"reason": "wrong samples"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert not group_alive(pgid)
    assert backend.poll(running.run_handle).state == "cancelled"
    assert not QueueEntry.objects.filter(workset_code=code).exists()
    assert SlotCounter.objects.get(scope=f"cluster:{local_cluster.pk}").used == 0


def wait_for_step_group(marker: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and (pgid := json.loads(marker.read_text()).get("pgid")):
            return pgid
        time.sleep(0.05)
    raise AssertionError(f"{marker} did not appear")


@pytest.mark.slurm
def test_the_qc_workset_runs_the_same_way_on_a_real_slurm_cluster(
    world, alice, bucket, inputs, submit, drive, slurm_cluster
):
    Cluster.objects.create(name="slurm-1", backend="slurm", region="us-east-1", usd_per_vcpu_hour="0.03")
    code = submit(run_spec(inputs, "fastq_qc"))
    workset = drive(code)

    assert (workset.state, workset.cluster, workset.run_handle["backend"]) == (
        "completed",
        "slurm-1",
        "slurm",
    )
    body = alice.get(f"/api/v1/worksets/{code}").json()
    assert [(step["name"], step["status"]) for step in body["steps"]] == [
        ("qc", "succeeded"),
        ("summarise", "succeeded"),
    ]
    keys = {item.key for item in storage_for(bucket).list(f"results/{code}/qc/").objects}
    assert f"results/{code}/qc/summary.tsv" in keys
    booked = UsageRecord.objects.filter(tenant=world.tenant, reference__startswith=f"{code}/")
    assert {r.reference for r in booked} <= {f"{code}/qc", f"{code}/summarise"}  # a step under 1 s books 0
    assert sum(r.quantity for r in booked) == Decimal(body["measured_vcpu_hours"]) > 0


@pytest.mark.slurm
def test_a_failing_workset_on_slurm_is_diagnosed_retried_and_dead_lettered(
    world, inputs, submit, drive, slurm_cluster
):
    Cluster.objects.create(name="slurm-1", backend="slurm", region="us-east-1", usd_per_vcpu_hour="0.03")
    workset = drive(submit(run_spec(inputs[:1], "test_fail", max_retries=1)))
    assert (workset.state, workset.failure_code, workset.auto_retries) == ("dead_letter", "WS-NET-001", 1)
    assert workset.failed_step == "transfer"


def test_a_pipeline_its_cluster_cannot_run_is_a_configuration_failure(local_cluster, inputs, submit, drive):
    workset = drive(
        submit(run_spec(inputs[:1], "germline"))
    )  # local-1 claims every pipeline; it has no germline
    assert (workset.state, workset.failure_code, workset.failed_step) == ("dead_letter", "WS-CFG-103", "plan")
    assert workset.auto_retries == 0
