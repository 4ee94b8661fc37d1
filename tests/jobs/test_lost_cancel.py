"""A cancel sent while the broker is down (Redis restarting): the workset is cancelled in the database, but
the message that stops its run on the cluster is lost. Beat's poll finds the run still alive and stops it,
once; a poll in another tenant's schema never reaches it.

The lost message is the cancel's after-commit sends captured and never run. Celery is eager and the test
sends the periodic task itself, as beat would."""

import json
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from jobs.backends.local import LocalBackend, group_alive, run_directory, supervisor_alive
from jobs.models import State, Workset
from jobs.tasks import poll_tenant_runs_task, send_in_schema
from tenants.models import AuditEvent
from tests.builders import run_spec
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db


def test_a_running_worksets_cancel_lost_with_the_broker_is_stopped_once_by_the_poll_and_never_from_beta(
    world, api_for, alice, local_cluster, inputs, submit, drive, settings, django_capture_on_commit_callbacks
):
    settings.RUNYARD_TEST_PIPELINE_SECONDS = 60
    code = submit(run_spec(inputs[:1], "test_help"))
    running = drive(code, until={State.RUNNING})
    marker = Path(running.run_handle["run_dir"]) / "steps" / "help.json"
    pgid = wait_for(
        lambda: marker.exists() and json.loads(marker.read_text()).get("pgid"), "the step's start"
    )
    url = f"/api/v1/worksets/{code}/cancel"

    with django_capture_on_commit_callbacks(execute=True):
        assert api_for(world.mallory, world.other).post(url, {}, format="json").status_code == 404
    with django_capture_on_commit_callbacks(execute=False):  # the broker is down: nothing sent leaves
        response = alice.post(url, {"reason": "wrong samples"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert group_alive(pgid)  # cancelled in the database only

    with django_capture_on_commit_callbacks(execute=True):
        send_in_schema(world.other.schema_name, poll_tenant_runs_task)  # beta's poll
    assert group_alive(pgid)

    for _ in range(2):  # the broker is back: beat's poll of alpha, twice
        with django_capture_on_commit_callbacks(execute=True):
            send_in_schema(world.tenant.schema_name, poll_tenant_runs_task)
    assert not group_alive(pgid)
    assert LocalBackend().poll(running.run_handle).state == "cancelled"
    with tenant_context(world.tenant):
        stopped = Workset.objects.get(code=code)
    assert stopped.state == State.CANCELLED and stopped.run_stopped_at is not None
    events = AuditEvent.objects.filter(tenant=world.tenant, target=code, action="workset.run_stopped")
    assert events.count() == 1


def test_a_workset_cancelled_while_its_inputs_are_staged_has_the_run_it_then_started_stopped(
    world, alice, local_cluster, inputs, submit, drive, settings, monkeypatch
):
    """The start stages inputs (minutes for large FASTQs) before it submits; a cancel meanwhile must not
    leave a run that no workset follows."""
    from jobs import execution

    settings.RUNYARD_TEST_PIPELINE_SECONDS = 60
    stage = execution.stage_inputs

    def staged_while_alice_cancels(bucket, run, work_dir):
        response = alice.post(f"/api/v1/worksets/{run.workset_code}/cancel", {}, format="json")
        assert response.status_code == 200 and response.json()["state"] == "cancelled"
        return stage(bucket, run, work_dir)

    monkeypatch.setattr(execution, "stage_inputs", staged_while_alice_cancels)
    code = submit(run_spec(inputs[:1], "test_help"))
    cancelled = drive(code, until={State.CANCELLED})

    run_dir = run_directory(settings.RUNYARD_HOME, world.tenant.schema_name, code)
    assert LocalBackend().poll({"backend": "local", "run_dir": str(run_dir)}).state == "cancelled"
    assert not supervisor_alive(run_dir)
    assert cancelled.run_handle["run_dir"] == str(run_dir)
    assert cancelled.run_stopped_at is not None
    events = AuditEvent.objects.filter(tenant=world.tenant, target=code, action="workset.run_stopped")
    assert events.count() == 1
