"""A Celery worker SIGKILLed in the middle of a cost ingest, on the machine's Redis. First only its pool
process is killed (as the out-of-memory killer would): the worker puts the task back at once
(``task_reject_on_worker_lost``) and runs it again. Then the whole worker is killed: a second worker takes the
task back once its visibility timeout has passed (``RUNYARD_BROKER_VISIBILITY_SECONDS``, a few seconds here),
skips the batch already applied and finishes; the rows are there once, counted once.

Real processes: the workers and the process that queues the ingest run with tests/faults/worker_settings.py
(the module's own queue and Redis key prefix) against the test database; rows are committed, so they are
removed afterwards. The test holds the tenant's cost lock once the first batch is in, so the worker is
surely in the middle of the file, waiting on its next batch, when it is killed (every batch, even one
skipped as already applied, takes that lock first; a killed worker's database session keeps waiting on it
until it is released, so each run of the task adds one waiter)."""

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context
from psycopg import sql

from analysis.models import CostIngest, CostRollup, GpuJob, Team
from analysis.services.costs import BATCH_ROWS
from tenants.models import AuditEvent, Bucket
from tenants.storage import storage_for
from tests import waiting
from tests.analysis.test_cost_ingest import assert_same_rollups, rollups_after_rebuild, stored_rollups
from tests.browser.conftest import database_url
from tests.conftest import RUN_ISOLATION

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.skipif(not settings.REDIS_URL, reason="the worker-kill drill runs on Redis (REDIS_URL)"),
]

QUEUE = f"{RUN_ISOLATION}-kill-{uuid.uuid4().hex[:6]}"
ROWS = 2 * BATCH_ROWS  # two batches: one applied before the kill, one after
VISIBILITY_SECONDS = 3
WAIT_SECONDS = 90


def jobs_file(path: Path) -> Path:
    lines = (
        json.dumps(
            {
                "job_id": f"kill-{number}",
                "team_name": "Drill",
                "model_name": "resnet-50",
                "provider": "aws",
                "gpu_type": "a100",
                "gpu_count": 1 + number % 4,
                "start_time": f"2026-01-{1 + number % 28:02d}T08:00:00Z",
                "end_time": f"2026-01-{1 + number % 28:02d}T09:30:00Z",
                "status": "completed",
            }
        )
        for number in range(ROWS)
    )
    path.write_text("\n".join(lines) + "\n")
    return path


def environment(s3_server) -> dict[str, str]:
    return {
        **os.environ,
        **s3_server.environment(),
        "DJANGO_SETTINGS_MODULE": "tests.faults.worker_settings",
        "RUNYARD_TEST_ISOLATION": QUEUE,
        "RUNYARD_BROKER_VISIBILITY_SECONDS": str(VISIBILITY_SECONDS),
        "DATABASE_URL": database_url(connection.settings_dict),
    }


def start_worker(name: str, s3_server, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", QUEUE, "-n", f"{name}@%h"]
    command += ["--concurrency=1", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    with log.open("a") as out:
        return subprocess.Popen(
            [*command, "--loglevel=info"],
            env=environment(s3_server),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
            process_group=0,  # the worker and its pool child, killed together
        )


def wait_for(condition, what: str, log: Path):
    return waiting.wait_for(condition, what, log, WAIT_SECONDS)


def pool_process(worker: subprocess.Popen) -> int:
    """The pid of the worker's one pool process (prefork, concurrency 1)."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(20)


@pytest.fixture
def observer():
    """A connection of the test's own, outside its transaction: it reads what the workers committed and
    holds the tenant's cost lock."""
    with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as conn:
        yield conn


@pytest.fixture
def drill(world, django_db_blocker):
    """Alpha's cost tables start empty (every other test rolls back); afterwards the drill's committed rows,
    its file (and its bytes on the bucket counters) and the module's keys on Redis are removed."""
    with tenant_context(world.tenant):
        assert not GpuJob.objects.exists() and not CostIngest.objects.exists()
    before = Bucket.objects.filter(tenant=world.tenant).values("bytes_used", "object_count").get()
    yield
    with django_db_blocker.unblock():
        with tenant_context(world.tenant):
            bucket = storage_for(Bucket.objects.get(tenant=world.tenant))
            for key in CostIngest.objects.values_list("raw_key", flat=True):
                bucket.delete(key)
            for model in (GpuJob, CostRollup, Team, CostIngest):
                model.objects.all().delete()
        AuditEvent.objects.filter(tenant=world.tenant, action__startswith="cost_ingest.").delete()
        AuditEvent.objects.filter(tenant=world.tenant, target__startswith="costs/ingests/").delete()
        Bucket.objects.filter(tenant=world.tenant).update(
            bytes_used=before["bytes_used"], object_count=before["object_count"]
        )
    keys = redis.Redis.from_url(settings.REDIS_URL)
    for key in keys.scan_iter(f"{QUEUE}*"):
        keys.delete(key)


def test_a_cost_ingest_survives_its_worker_being_killed_and_is_applied_once(
    world, s3_server, drill, observer, tmp_path
):
    log, path = tmp_path / "workers.log", jobs_file(tmp_path / "drill-jobs.jsonl")
    used_before = Bucket.objects.filter(tenant=world.tenant).values_list("bytes_used", flat=True).get()

    def ingest_row():
        table = sql.Identifier(world.tenant.schema_name, "analysis_costingest")
        return observer.execute(sql.SQL("SELECT state, rows_done FROM {}").format(table)).fetchone()

    def waiting_on_the_lock() -> int:
        return observer.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()[0]

    worker = start_worker("first", s3_server, log)
    try:
        queued = subprocess.run(
            [sys.executable, "-m", "tests.faults.queue_ingest", world.tenant.schema_name, str(path)],
            env=environment(s3_server),
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
        code = queued.stdout.strip().splitlines()[-1]
        wait_for(lambda: (row := ingest_row()) and row[1] >= BATCH_ROWS, "the first batch", log)
        lock = f"{world.tenant.schema_name}.costs"
        observer.execute("SELECT pg_advisory_lock(hashtext(%s))", [lock])  # the next batch waits for it
        wait_for(lambda: waiting_on_the_lock() == 1, "the worker waiting on its next batch", log)
        assert ingest_row() == ("running", BATCH_ROWS)

        os.kill(pool_process(worker), signal.SIGKILL)  # its pool process only: the worker runs it again
        wait_for(lambda: waiting_on_the_lock() == 2, "the task run again, waiting on the lock", log)
        assert "WorkerLostError" in log.read_text()

        os.killpg(worker.pid, signal.SIGKILL)  # the whole worker and its new pool process, mid-ingest
        worker.wait(10)
        observer.execute("SELECT pg_advisory_unlock(hashtext(%s))", [lock])
        assert ingest_row() == ("running", BATCH_ROWS)  # nobody took it over while no worker lived

        worker = start_worker("second", s3_server, log)
        wait_for(lambda: ingest_row()[0] != "running", "the end of the ingest", log)
    finally:
        stop(worker)

    with tenant_context(world.tenant):
        report = CostIngest.objects.get(code=code)
        assert (report.state, report.rows_done, report.failed) == ("done", ROWS, 0), report.error
        # every row applied exactly once: a batch applied twice would count its rows as unchanged
        assert report.counts["jobs"] == {"inserted": ROWS, "updated": 0, "unchanged": 0}
        assert GpuJob.objects.count() == ROWS and Team.objects.filter(name="Drill").count() == 1
    assert_same_rollups(stored_rollups(world.tenant), rollups_after_rebuild(world.tenant))
    finished = AuditEvent.objects.filter(tenant=world.tenant, target=code, action="cost_ingest.done")
    assert finished.count() == 1
    used = Bucket.objects.filter(tenant=world.tenant).values_list("bytes_used", flat=True).get()
    assert used == used_before + path.stat().st_size  # the file was stored and counted once
    assert "first@" in log.read_text() and "second@" in log.read_text()
