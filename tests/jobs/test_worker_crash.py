"""A Celery worker killed with SIGKILL in the middle of a workset: after a new worker starts, the workset
finishes, its step ran exactly once (never twice at the same time) and nothing is lost.

Real processes: a worker with embedded beat against the test database (committed data), its own
filesystem broker under a temporary RUNYARD_HOME (no shared Redis), the local backend's detached run."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from jobs.models import State, Workset
from tenants.models import UsageRecord
from tests import waiting
from tests.browser.conftest import database_url
from tests.builders import workset_spec

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
STEP_SECONDS = 6
WAIT_SECONDS = 90


@pytest.fixture(scope="module")
def committed_workset(world, django_db_blocker):
    """A test_help workset queued in alpha and a local cluster, committed before the test's own transaction
    begins (the worker must see them); removed afterwards with everything the run wrote."""
    from jobs.services import create_workset

    with django_db_blocker.unblock():
        cluster = Cluster.objects.create(
            name="crash-local", backend="local", region="us-east-1", usd_per_vcpu_hour="0.05"
        )
        with tenant_context(world.tenant):
            spec = workset_spec("Crash drill", pipeline="test_help")
            workset = create_workset(world.tenant, spec, actor=None, submit=False, dry_run=True)
            workset.transition_to(State.QUEUED, reason="Submitted")  # the worker's beat dispatches it
    yield workset
    with django_db_blocker.unblock():
        with tenant_context(world.tenant):
            Workset.objects.filter(pk=workset.pk).delete()
        QueueEntry.objects.filter(workset_code=workset.code).delete()
        UsageRecord.objects.filter(reference__startswith=f"{workset.code}/").delete()
        SlotCounter.objects.filter(scope=f"cluster:{cluster.pk}").delete()  # the others are as they were
        cluster.delete()


def start_worker(home: Path, s3_server, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the filesystem broker under home
    env |= {
        "DATABASE_URL": database_url(connection.settings_dict),
        "RUNYARD_HOME": str(home),
        "RUNYARD_DISPATCH_SECONDS": "1",
        "RUNYARD_POLL_SECONDS": "1",
        "RUNYARD_TEST_PIPELINE_SECONDS": str(STEP_SECONDS),
        **s3_server.environment(),
    }
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-B", "--concurrency=1"]
    command += ["-s", str(home / "celerybeat-schedule"), "--loglevel=info"]
    with log.open("a") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR, process_group=0
        )


def wait_for(condition, what: str, log: Path):
    return waiting.wait_for(condition, what, log, WAIT_SECONDS, every=0.2)


def test_a_workset_survives_its_worker_being_killed_and_its_step_runs_once(
    world, committed_workset, django_db_blocker, s3_server, tmp_path
):
    home, log = tmp_path / "home", tmp_path / "worker.log"
    home.mkdir()

    def current() -> Workset:
        with django_db_blocker.unblock(), tenant_context(world.tenant):
            return Workset.objects.get(pk=committed_workset.pk)

    worker = start_worker(home, s3_server, log)
    try:
        running = wait_for(lambda: (w := current()).state == State.RUNNING and w, "running", log)
        marker = Path(running.run_handle["run_dir"]) / "steps" / "help.json"
        wait_for(lambda: marker.exists() and json.loads(marker.read_text()).get("pid"), "step start", log)
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, mid-step
        worker.wait(10)
        assert current().state == State.RUNNING  # nobody followed it while no worker lived

        worker = start_worker(home, s3_server, log)
        done = wait_for(
            lambda: (w := current()).state in (State.COMPLETED, State.DEAD_LETTER) and w, "end", log
        )
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(20)

    assert done.state == State.COMPLETED, done.diagnosis
    run_dir = Path(done.run_handle["run_dir"])
    assert (run_dir / "logs" / "help.log").read_text().count("--- ") == 1  # the step ran once
    assert not json.loads(marker.read_text()).get("history")  # and never had to be restarted
    with django_db_blocker.unblock(), tenant_context(world.tenant):
        moves = list(done.transitions.values_list("to_state", flat=True))
        assert moves.count(State.RUNNING) == 1 and moves.count(State.COMPLETED) == 1
        assert done.steps.get(name="help").status == "succeeded"
        booked = UsageRecord.objects.filter(reference=f"{done.code}/help")
        assert booked.count() == 1 and booked.get().quantity == done.measured_vcpu_hours
