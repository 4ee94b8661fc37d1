"""The slurm execution backend against a real single-node Slurm (slurm-wlm + munge, started by the
``slurm_cluster`` fixture): steps are batch jobs chained with afterok, observed through scontrol."""

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from uuid import uuid4

import pytest

from jobs.backends import backend_for
from jobs.backends.base import (
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    BackendUnavailable,
    PipelinePlan,
    Step,
)
from jobs.backends.local import pid_alive
from jobs.backends.slurm import SlurmBackend
from jobs.backends.staging import make_run, publish_results, stage_inputs
from jobs.diagnostics.report import diagnose
from jobs.pipelines import plan_for
from tenants import demo_data
from tests.jobs.test_local_backend import demo_inputs, qc_spec, wait_until  # noqa: F401 - a fixture

pytestmark = pytest.mark.slurm
PYTHON = sys.executable


@pytest.fixture
def backend(slurm_cluster, tmp_path):
    """A slurm backend under this test's home (a space in its path: scontrol's output must still parse);
    whatever it left queued or running is cancelled afterwards."""
    slurm = SlurmBackend(tmp_path / "run yard", slurm_conf=slurm_cluster, partition="")
    yield slurm
    for run_dir in (tmp_path / "run yard").glob("runs/*/*"):
        slurm.cancel({"backend": "slurm", "run_dir": str(run_dir)})


def scontrol_job(slurm_conf: str, job_id: str) -> str:
    """What Slurm itself says about the job (``scontrol show job -o``), independently of the backend."""
    return subprocess.run(
        ["scontrol", "show", "job", "-o", job_id],
        env={**os.environ, "SLURM_CONF": slurm_conf},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def takes_work(backend) -> bool:
    try:
        backend.check()
    except BackendUnavailable:
        return False
    return True


def finished(backend, handle):
    return wait_until(lambda: (status := backend.poll(handle)).finished and status)


def new_code() -> str:
    return f"sl-{uuid4().hex[:8]}"


def python_step(name: str, code: str) -> Step:
    return Step(name, (PYTHON, "-c", code))


def test_test_help_runs_as_a_slurm_job_and_logs_its_usage(backend, slurm_cluster):
    spec = {"spec_version": 1, "name": "Slurm help", "pipeline": "test_help", "samples": [{"sample_id": "A"}]}
    run = make_run("alpha", new_code(), spec)
    handle = backend.submit(run)
    assert json.loads(json.dumps(handle)) == handle
    assert handle["backend"] == "slurm" and list(handle["jobs"]) == ["help"]

    status = finished(backend, handle)
    assert status.state == SUCCEEDED
    help_step = status.step("help")
    assert help_step.exit_code == 0 and help_step.started_at <= help_step.finished_at
    assert help_step.vcpu_seconds >= 1  # run time (whole seconds, at least 1 once it ran) × 1 CPU
    log = backend.log_excerpt(handle, "help")
    assert "Usage: python -m jobs.pipelines.test_help" in log and '"name": "Slurm help"' in log
    job = scontrol_job(slurm_cluster, handle["jobs"]["help"])
    assert f" JobName=runyard-alpha-{run.workset_code}-help " in job and " JobState=COMPLETED " in job
    assert f" WorkDir={backend.run_dir('alpha', run.workset_code) / 'work'} " in job


@pytest.mark.django_db
def test_fastq_qc_on_staged_inputs_produces_the_results(backend, bucket, demo_inputs):  # noqa: F811
    run = make_run("alpha", new_code(), qc_spec(demo_inputs))
    work = backend.prepare(run) / "work"
    stage_inputs(bucket, run, work)
    handle = backend.submit(run)

    status = finished(backend, handle)
    assert [(s.name, s.status, s.exit_code) for s in status.steps] == [
        ("qc", SUCCEEDED, 0),
        ("summarise", SUCCEEDED, 0),
    ]
    assert status.step("qc").finished_at <= status.step("summarise").started_at
    assert "HG002: 300 read pairs" in backend.log_excerpt(handle, "qc")
    rows = (work / "results" / "qc" / "summary.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in rows[1:]] == list(demo_data.SAMPLES)
    prefix = f"results/{run.workset_code}/qc/"
    assert publish_results(bucket, run, work)[-1] == f"{prefix}summary.tsv"


def test_a_failing_step_fails_with_its_exit_code_and_the_next_step_never_runs(backend, slurm_cluster):
    plan = PipelinePlan(
        "custom",
        (
            python_step("break", "import sys; print('about to fail'); sys.exit(3)"),
            python_step("after", "open('after-ran', 'w').write('yes')"),
        ),
    )
    run = make_run("alpha", new_code(), {"pipeline": "custom"}, plan=plan)
    handle = backend.submit(run)

    status = finished(backend, handle)
    assert status.state == FAILED
    broken, after = status.steps
    assert (broken.status, broken.exit_code) == (FAILED, 3) and "FAILED" in broken.message
    assert after.status == PENDING and "Never ran" in after.message
    assert "about to fail" in backend.log_excerpt(handle, "break")
    # Slurm cancels the dependent job itself (--kill-on-invalid-dep), it does not sit pending for ever.
    after_job = handle["jobs"]["after"]
    job = wait_until(lambda: " JobState=CANCELLED " in (j := scontrol_job(slurm_cluster, after_job)) and j)
    assert " Reason=DependencyNeverSatisfied " in job
    assert backend.poll(handle).step("after").status == PENDING
    assert not (backend.run_dir("alpha", run.workset_code) / "work" / "after-ran").exists()
    assert backend.log_excerpt(handle, "after") == ""


def test_a_resubmit_after_a_failure_reruns_only_the_failed_step(backend, tmp_path):
    flag = tmp_path / "second-may-pass"
    counter = (
        "import pathlib,sys; p=pathlib.Path('count-{0}'); "
        "p.write_text(p.read_text()+'x' if p.exists() else 'x')"
    )
    plan = PipelinePlan(
        "custom",
        (
            python_step("first", counter.format("first")),
            python_step(
                "second",
                counter.format("second") + f"; sys.exit(0 if pathlib.Path({str(flag)!r}).exists() else 1)",
            ),
        ),
    )
    run = make_run("alpha", new_code(), {"pipeline": "custom"}, plan=plan)
    work = backend.prepare(run) / "work"
    first = backend.submit(run)
    status = finished(backend, first)
    assert [(s.name, s.status) for s in status.steps] == [("first", SUCCEEDED), ("second", FAILED)]

    flag.touch()
    retry = backend.submit(run)
    assert retry["jobs"]["first"] == first["jobs"]["first"]  # not resubmitted
    assert retry["jobs"]["second"] != first["jobs"]["second"]
    assert backend.poll(retry).step("second").status in (PENDING, RUNNING)  # not the last attempt's failure
    status = finished(backend, retry)
    assert [(s.name, s.status) for s in status.steps] == [("first", SUCCEEDED), ("second", SUCCEEDED)]
    assert (work / "count-first").read_text() == "x" and (work / "count-second").read_text() == "xx"
    record = json.loads((backend.run_dir("alpha", run.workset_code) / "slurm.json").read_text())
    assert record["history"] == [{"step": "second", "job_id": first["jobs"]["second"]}]

    assert backend.submit(run)["jobs"] == retry["jobs"]  # all done: nothing is submitted


def test_submitting_while_the_jobs_are_queued_or_running_submits_nothing(backend):
    spec = {"spec_version": 1, "name": "Sleepy", "pipeline": "test_help", "samples": []}
    plan = PipelinePlan(
        "custom", (*plan_for("test_help", sleep_seconds=2).steps, python_step("after", "print('after')"))
    )
    run = make_run("alpha", new_code(), spec, plan=plan)
    handles = []
    workers = [threading.Thread(target=lambda: handles.append(backend.submit(run))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert handles[0]["jobs"] == handles[1]["jobs"]  # two workers at once: one set of jobs
    wait_until(lambda: backend.poll(handles[0]).step("help").status == RUNNING)
    assert backend.submit(run)["jobs"] == handles[0]["jobs"]

    assert finished(backend, handles[0]).state == SUCCEEDED
    assert backend.log_excerpt(handles[0], "help").count("--- ") == 1  # the step ran once


def test_cancel_stops_a_long_step_and_the_steps_after_it(backend):
    plan = PipelinePlan(
        "custom",
        (
            python_step("long", "import os,time; open('pid','w').write(str(os.getpid())); time.sleep(300)"),
            python_step("after", "open('after-ran', 'w').write('yes')"),
        ),
    )
    run = make_run("alpha", new_code(), {"pipeline": "custom"}, plan=plan)
    work = backend.prepare(run) / "work"
    handle = backend.submit(run)
    wait_until(lambda: backend.poll(handle).step("long").status == RUNNING and (work / "pid").exists())
    pid = int(wait_until(lambda: (work / "pid").read_text()))
    assert pid_alive(pid)

    backend.cancel(handle)
    status = backend.poll(handle)
    assert status.state == CANCELLED and status.step("long").status == CANCELLED
    assert status.step("after").status in (PENDING, CANCELLED)
    wait_until(lambda: not pid_alive(pid), timeout=10)
    backend.cancel(handle)  # idempotent
    assert backend.poll(handle).state == CANCELLED
    assert not (work / "after-ran").exists()


def test_a_step_whose_node_fails_is_failed_and_diagnosed_as_a_node_failure(backend, slurm_cluster):
    plan = PipelinePlan(
        "custom", (python_step("long", "import time; print('working', flush=True); time.sleep(300)"),)
    )
    run = make_run("alpha", new_code(), {"pipeline": "custom"}, plan=plan)
    handle = backend.submit(run)
    wait_until(lambda: "working" in backend.log_excerpt(handle, "long"))
    node = subprocess.run(["hostname", "-s"], capture_output=True, text=True, check=True).stdout.strip()
    scontrol = ["scontrol", "update", f"NodeName={node}"]
    env = {**os.environ, "SLURM_CONF": slurm_cluster}
    subprocess.run([*scontrol, "State=DOWN", "Reason=test"], env=env, check=True)
    try:
        status = finished(backend, handle)
    finally:  # the node takes work again for the next tests (ReturnToService=2 usually does it already)
        subprocess.run([*scontrol, "State=RESUME"], env=env, capture_output=True, check=False)
        wait_until(lambda: takes_work(backend))
    assert status.state == FAILED and status.step("long").message == "Slurm: NODE_FAIL"
    excerpt = backend.log_excerpt(handle, "long")
    assert excerpt.endswith(f"Slurm: job {handle['jobs']['long']} ended NODE_FAIL (node failure)\n")
    assert diagnose(excerpt).code == "WS-CLU-001"
    assert len(backend.log_excerpt(handle, "long", max_bytes=30).encode()) <= 30


def test_check_passes_on_the_running_cluster_and_names_a_stopped_controller(slurm_cluster, tmp_path):
    backend_for("slurm").check()  # the settings' SLURM_CONF: the test cluster
    SlurmBackend(tmp_path, slurm_conf=slurm_cluster, partition="debug").check()

    stopped = tmp_path / "stopped.conf"  # the same cluster, but its controller's port has no one listening
    conf = Path(slurm_cluster).read_text()
    stopped.write_text(re.sub(r"(?m)^SlurmctldPort=\d+$", "SlurmctldPort=9", conf))
    with pytest.raises(BackendUnavailable, match="the Slurm controller does not answer"):
        SlurmBackend(tmp_path, slurm_conf=str(stopped), partition="").check()
    with pytest.raises(BackendUnavailable, match="no node of partition nowhere"):
        SlurmBackend(tmp_path, slurm_conf=slurm_cluster, partition="nowhere").check()
