import io
import time
from uuid import uuid4

import pytest
from django_tenants.utils import tenant_context

from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from jobs.models import State, Workset
from jobs.tasks import dispatch_task, poll_runs_task, send_in_schema
from tenants import demo_data
from tenants.models import Bucket
from tenants.storage import storage_for

SETTLED = {State.COMPLETED, State.DEAD_LETTER, State.CANCELLED}


@pytest.fixture
def alice(api_for, world):
    """The owner's API client on alpha's host."""
    return api_for(world.alice)


@pytest.fixture
def bucket(world) -> Bucket:
    """Alpha's bucket on the test S3 server."""
    return Bucket.objects.get(tenant=world.tenant)


@pytest.fixture
def home(settings, tmp_path):
    """Runs under this test's directory, retries without waiting; runs left over are cancelled after."""
    from jobs.backends import backend_for

    settings.RUNYARD_HOME = tmp_path
    settings.RUNYARD_RETRY_BASE_SECONDS = 0
    yield tmp_path
    for run_dir in tmp_path.glob("runs/*/*"):
        kind = "slurm" if (run_dir / "slurm.lock").exists() else "local"
        backend_for(kind).cancel({"backend": kind, "run_dir": str(run_dir)})


@pytest.fixture
def local_cluster(db, bucket):
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
def fresh_queue(db):
    """This test's queue only: entries and places of worksets other tests committed (browser tests submit for
    real) are removed inside this test's transaction, so they are back once it rolls back."""
    QueueEntry.objects.all().delete()
    SlotCounter.objects.all().delete()


@pytest.fixture
def drive(world, home, fresh_queue, django_capture_on_commit_callbacks):
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
