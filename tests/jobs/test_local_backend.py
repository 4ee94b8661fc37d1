"""The local execution backend end to end: demo FASTQs in alpha's bucket (moto S3 server) are staged, QC'd
by real subprocesses under a detached supervisor, and the results published back to the bucket."""

import gzip
import io
import json
import os
import signal
import sys
import time
from uuid import uuid4

import pytest

from jobs.backends.base import CANCELLED, FAILED, PENDING, RUNNING, SUCCEEDED, PipelinePlan, Step
from jobs.backends.local import LocalBackend, group_alive, supervisor_alive
from jobs.backends.staging import make_run, publish_results, stage_inputs
from jobs.diagnostics.report import diagnose
from jobs.pipelines import plan_for
from jobs.pipelines.fastq_qc import InvalidFastq, records, sample_report, stats_of, summary_tsv
from tenants import demo_data
from tenants.storage import storage_for

pytestmark = pytest.mark.django_db
WAIT_SECONDS = 60


def wait_until(condition, timeout: float = WAIT_SECONDS, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not done within {timeout}s")


def finished(backend, handle):
    return wait_until(lambda: (status := backend.poll(handle)).finished and status)


@pytest.fixture
def backend(tmp_path):
    """A local backend under this test's home; whatever it left running is cancelled afterwards."""
    local = LocalBackend(tmp_path / "home")
    yield local
    for run_dir in (tmp_path / "home").glob("runs/*/*"):
        local.cancel({"backend": "local", "run_dir": str(run_dir)})


@pytest.fixture
def demo_inputs(db, bucket):
    """The demo trio's FASTQ pairs uploaded to alpha's bucket under a prefix of this test; spec samples."""
    prefix = f"lb-{uuid4().hex[:8]}/"
    storage = storage_for(bucket)
    samples = []
    for sample in demo_data.SAMPLES:
        keys = [prefix + key for key in demo_data.fastq_keys(sample)]
        for key, data in zip(keys, demo_data.fastq_pair(sample), strict=True):
            storage.upload(key, io.BytesIO(data))
        samples.append(
            {"sample_id": sample, "fastq_r1": keys[0], "fastq_r2": f"s3://{bucket.name}/{keys[1]}"}
        )
    return samples


def qc_spec(samples, name="QC trio"):
    return {
        "spec_version": 1,
        "name": name,
        "pipeline": "fastq_qc",
        "reference_genome": "GRCh38",
        "samples": samples,
    }


def new_code() -> str:
    return f"qc-{uuid4().hex[:8]}"


def independent_gc_percent(*gzipped: bytes) -> float:
    gc = bases = 0
    for data in gzipped:
        lines = gzip.decompress(data).decode().splitlines()
        for sequence in lines[1::4]:
            gc += sum(base in "GC" for base in sequence)
            bases += len(sequence)
    return 100 * gc / bases


def test_fastq_qc_runs_end_to_end_and_publishes_results_to_the_bucket(backend, bucket, demo_inputs):
    run = make_run("alpha", new_code(), qc_spec(demo_inputs))
    work = backend.prepare(run) / "work"
    stage_inputs(bucket, run, work)
    handle = backend.submit(run)
    assert json.loads(json.dumps(handle)) == handle and handle["backend"] == "local"

    status = finished(backend, handle)
    assert status.state == SUCCEEDED
    assert [(s.name, s.status, s.exit_code) for s in status.steps] == [
        ("qc", SUCCEEDED, 0),
        ("summarise", SUCCEEDED, 0),
    ]
    assert all(s.started_at and s.finished_at and s.started_at <= s.finished_at for s in status.steps)
    assert status.step("qc").finished_at <= status.step("summarise").started_at
    assert "HG002: 300 read pairs" in backend.log_excerpt(handle, "qc")

    keys = publish_results(bucket, run, work)
    prefix = f"results/{run.workset_code}/qc/"
    assert keys == [f"{prefix}{s}.json" for s in demo_data.SAMPLES] + [f"{prefix}summary.tsv"]
    storage = storage_for(bucket)
    summary = b"".join(storage.download(f"{prefix}summary.tsv")).decode().splitlines()
    header, *rows = [line.split("\t") for line in summary]
    assert header[:5] == ["sample_id", "reads_r1", "reads_r2", "bases", "gc_percent"]
    assert [row[0] for row in rows] == list(demo_data.SAMPLES)
    for row in rows:
        pair = demo_data.fastq_pair(row[0])
        assert int(row[1]) == int(row[2]) == demo_data.READS_PER_FILE
        assert int(row[3]) == 2 * demo_data.READS_PER_FILE * demo_data.READ_LENGTH
        assert float(row[4]) == pytest.approx(independent_gc_percent(*pair), abs=0.005)
    report = json.loads(b"".join(storage.download(f"{prefix}HG003.json")))
    assert report["r1"]["reads"] == demo_data.READS_PER_FILE
    assert sum(report["combined"]["quality_histogram"].values()) == report["combined"]["bases"]
    assert set(report["combined"]["quality_histogram"]) <= {"37", "25", "11", "2"}  # the demo's binned Qs


def test_a_truncated_fastq_fails_the_qc_step_with_a_diagnosable_log(backend, bucket, demo_inputs):
    storage = storage_for(bucket)
    r1 = gzip.decompress(demo_data.fastq_pair("HG004")[0]).decode()
    broken_key = demo_inputs[2]["fastq_r1"].replace(".fastq.gz", ".broken.fastq")
    storage.upload(broken_key, io.BytesIO(r1[: len(r1) - 40].encode()))  # cut inside the last quality line
    demo_inputs[2]["fastq_r1"] = broken_key
    run = make_run("alpha", new_code(), qc_spec(demo_inputs))
    stage_inputs(bucket, run, backend.prepare(run) / "work")

    status = finished(backend, backend.submit(run))
    handle = {"backend": "local", "run_dir": str(backend.run_dir("alpha", run.workset_code))}
    assert status.state == FAILED
    assert [(s.name, s.status) for s in status.steps] == [("qc", FAILED), ("summarise", PENDING)]
    assert status.step("qc").exit_code == 3
    excerpt = backend.log_excerpt(handle, "qc", max_bytes=2000)
    last_line = 4 * demo_data.READS_PER_FILE
    assert f"Invalid FASTQ format: truncated quality string at line {last_line}" in excerpt
    assert diagnose(excerpt).code == "WS-DAT-001"
    assert len(backend.log_excerpt(handle, "qc", max_bytes=20).encode()) <= 20


def test_cancel_stops_a_long_step_and_its_whole_process_group(backend):
    spec = {"spec_version": 1, "name": "Sleepy", "pipeline": "test_help", "samples": []}
    run = make_run("alpha", new_code(), spec, plan=plan_for("test_help", sleep_seconds=120))
    handle = backend.submit(run)
    running = wait_until(lambda: backend.poll(handle).step("help").status == RUNNING)
    assert running
    marker = json.loads((backend.run_dir("alpha", run.workset_code) / "steps" / "help.json").read_text())
    assert group_alive(marker["pgid"])

    backend.cancel(handle)
    assert not group_alive(marker["pgid"])
    wait_until(lambda: not supervisor_alive(backend.run_dir("alpha", run.workset_code)), timeout=10)
    status = backend.poll(handle)
    assert status.state == CANCELLED and status.step("help").status == CANCELLED
    backend.cancel(handle)  # idempotent
    assert backend.poll(handle).state == CANCELLED


def test_test_help_prints_its_usage_and_the_spec(backend):
    spec = {
        "spec_version": 1,
        "name": "Trio test help",
        "pipeline": "test_help",
        "samples": [{"sample_id": "HG002"}],
    }
    run = make_run("alpha", new_code(), spec)
    handle = backend.submit(run)
    assert finished(backend, handle).state == SUCCEEDED
    log = backend.log_excerpt(handle, "help")
    assert "Usage: python -m jobs.pipelines.test_help" in log and '"name": "Trio test help"' in log


def test_submitting_again_does_not_rerun_succeeded_steps_and_resumes_from_the_failed_one(backend, tmp_path):
    flag = tmp_path / "second-step-may-pass"
    python = [sys.executable, "-c"]
    counter = (
        "import pathlib,sys; p=pathlib.Path('count-{0}'); "
        "p.write_text(p.read_text()+'x' if p.exists() else 'x')"
    )
    plan = PipelinePlan(
        "custom",
        (
            Step("first", (*python, counter.format("first"))),
            Step(
                "second",
                (
                    *python,
                    counter.format("second")
                    + f"; sys.exit(0 if pathlib.Path({str(flag)!r}).exists() else 1)",
                ),
            ),
        ),
    )
    run = make_run("alpha", new_code(), {"pipeline": "custom"}, plan=plan)
    work = backend.prepare(run) / "work"
    handle = backend.submit(run)
    status = finished(backend, handle)
    assert [(s.name, s.status) for s in status.steps] == [("first", SUCCEEDED), ("second", FAILED)]
    first_started = status.step("first").started_at

    flag.touch()
    handle = backend.submit(run)  # a retry: resumes from the failed step
    status = finished(backend, handle)
    assert [(s.name, s.status) for s in status.steps] == [("first", SUCCEEDED), ("second", SUCCEEDED)]
    assert status.step("first").started_at == first_started
    assert (work / "count-first").read_text() == "x" and (work / "count-second").read_text() == "xx"

    assert backend.submit(run)["backend"] == "local"  # everything done: nothing runs
    time.sleep(0.3)
    assert (work / "count-first").read_text() == "x" and (work / "count-second").read_text() == "xx"


def test_a_second_submit_while_running_does_not_start_a_second_supervisor(backend):
    spec = {"spec_version": 1, "name": "Sleepy", "pipeline": "test_help", "samples": []}
    run = make_run("alpha", new_code(), spec, plan=plan_for("test_help", sleep_seconds=1))
    first = backend.submit(run)
    wait_until(lambda: backend.poll(first).step("help").status == RUNNING)
    second = backend.submit(run)
    assert second["supervisor_pid"] == first["supervisor_pid"]
    assert finished(backend, second).state == SUCCEEDED
    log = backend.log_excerpt(second, "help")
    assert log.count("--- ") == 1  # the step ran once


# fastq_qc's computations on small hand-written FASTQ text

SMALL = "@r1\nACGTGG\n+\nIIII##\n@r2\nAAAA\n+r2\n!!5?\n"


def test_read_count_gc_mean_quality_and_histogram_of_a_small_fastq():
    stats = stats_of(io.StringIO(SMALL))
    assert (stats.reads, stats.bases, stats.gc) == (2, 10, 4)
    assert stats.gc_percent == 40.0
    # I=40, #=2, !=0, 5=20, ?=30
    assert stats.histogram == {40: 4, 2: 2, 0: 2, 20: 1, 30: 1}
    assert stats.mean_quality == (4 * 40 + 2 * 2 + 20 + 30) / 10
    assert stats.q30_percent == 50.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@r1\nACGT\n+\nII", "truncated quality string at line 4"),
        ("@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\n", "truncated quality string at line 8"),
        ("@r1\nACGT\n+\nIIII\n@r2\nAC", "truncated record (no '+' line) at line 7"),
        ("r1\nACGT\n+\nIIII\n", "header does not start with '@' at line 1"),
        ("@r1\nACGT\n-\nIIII\n", "third line of a record does not start with '+' at line 3"),
        ("@r1\nACGT\n+\nIIIII\n", "sequence and quality are of different length at line 4"),
    ],
)
def test_an_invalid_fastq_is_refused_naming_the_line(text, message):
    with pytest.raises(InvalidFastq) as raised:
        list(records(io.StringIO(text), "x.fastq"))
    assert str(raised.value) == f"Invalid FASTQ format: {message} in x.fastq"


def test_a_pair_with_different_read_counts_is_invalid(tmp_path):
    (tmp_path / "r1.fastq").write_text(SMALL)
    (tmp_path / "r2.fastq").write_text(SMALL.split("@r2")[0])
    with pytest.raises(InvalidFastq, match="R1 has 2 reads but R2 has 1"):
        sample_report("S1", tmp_path / "r1.fastq", tmp_path / "r2.fastq")


def test_gzipped_and_plain_files_give_the_same_report_and_summary(tmp_path):
    (tmp_path / "a.fastq").write_text(SMALL)
    (tmp_path / "a.fastq.gz").write_bytes(gzip.compress(SMALL.encode()))
    plain, zipped = (
        sample_report("S1", tmp_path / "a.fastq", None),
        sample_report("S1", tmp_path / "a.fastq.gz", None),
    )
    assert plain == zipped and plain["r2"] is None
    assert summary_tsv([plain]).splitlines()[1] == "S1\t2\t\t10\t40.00\t21.40\t50.00"


def test_a_killed_supervisor_is_replaced_and_the_orphaned_step_never_runs_twice_at_once(backend, tmp_path):
    journal = tmp_path / "journal"
    script = (
        f"import pathlib,time; j=pathlib.Path({str(journal)!r}); "
        "j.open('a').write('start\\n'); time.sleep(1.5); j.open('a').write('end\\n')"
    )
    plan = PipelinePlan("custom", (Step("slow", (sys.executable, "-c", script)), Step("after", ("true",))))
    run = make_run("alpha", new_code(), {"pipeline": "custom"}, plan=plan)
    handle = backend.submit(run)
    wait_until(lambda: backend.poll(handle).step("slow").status == RUNNING)
    os.kill(handle["supervisor_pid"], signal.SIGKILL)  # the step lives on in its own process group
    run_dir = backend.run_dir("alpha", run.workset_code)
    wait_until(lambda: not supervisor_alive(run_dir), timeout=10)
    assert backend.poll(handle).step("slow").status == RUNNING

    again = backend.submit(run)  # e.g. the dispatcher after a worker restart
    assert again["supervisor_pid"] != handle["supervisor_pid"]
    status = finished(backend, again)
    assert [(s.name, s.status) for s in status.steps] == [("slow", SUCCEEDED), ("after", SUCCEEDED)]
    assert journal.read_text().split() == ["start", "end", "start", "end"]  # never start, start


def test_poll_says_failed_when_the_supervisor_and_the_step_are_both_gone(backend):
    spec = {"spec_version": 1, "name": "Sleepy", "pipeline": "test_help", "samples": []}
    run = make_run("alpha", new_code(), spec, plan=plan_for("test_help", sleep_seconds=60))
    handle = backend.submit(run)
    wait_until(lambda: backend.poll(handle).step("help").status == RUNNING)
    marker = json.loads((backend.run_dir("alpha", run.workset_code) / "steps" / "help.json").read_text())
    os.kill(handle["supervisor_pid"], signal.SIGKILL)
    os.killpg(marker["pgid"], signal.SIGKILL)
    status = wait_until(lambda: (s := backend.poll(handle)).state == FAILED and s)
    assert "gone" in status.step("help").message
    assert diagnose(status.step("help").message).code == "WS-CLU-001"  # retried, as a lost node is


def test_steps_never_inherit_the_workers_secrets(backend, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:hunter2@db/runyard")
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", "hunter2")
    plan = PipelinePlan("env", (Step("env", (sys.executable, "-c", "import os; print(sorted(os.environ))")),))
    handle = backend.submit(make_run("alpha", new_code(), {"samples": []}, plan=plan))
    assert finished(backend, handle).state == SUCCEEDED
    printed = backend.log_excerpt(handle, "env")
    assert "DATABASE_URL" not in printed and "S3_SECRET_ACCESS_KEY" not in printed
    assert "'PATH'" in printed and "'PYTHONPATH'" in printed
