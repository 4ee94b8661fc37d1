"""Profiler files among a completed workset's results become profiles: found by content when the workset
completes (the task the execution sends), once each, shown on the workset's page; also importable by hand
through the API, but only from that workset's results."""

import io
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from analysis.models import Profile
from analysis.tasks import find_result_profiles_task
from jobs.tasks import send_in_schema
from tenants.services.files import upload_file
from tests.builders import make_workset

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@pytest.fixture
def completed(world, django_capture_on_commit_callbacks):
    """A completed workset whose results hold a callgrind file, a gzip'd objdump and a TSV."""
    workset = make_workset(world.tenant, state="completed", name="Profiled run")
    prefix = f"results/{workset.code}/"
    with tenant_context(world.tenant):
        workset.results_prefix = prefix
        workset.save(update_fields=["results_prefix"])
        for key, data in (
            (f"{prefix}profile/callgrind.out.77", (DEMO / "before.callgrind").read_bytes()),
            (f"{prefix}qc/summary.tsv", b"sample\treads\nHG002\t1000\n"),
        ):
            upload_file(world.tenant, key, io.BytesIO(data), len(data), actor=None)
    return workset


def find(world, workset, capture):
    with capture(execute=True):
        send_in_schema(world.tenant.schema_name, find_result_profiles_task, workset.code)


def test_a_completed_worksets_profiler_output_becomes_a_profile_once(
    world, completed, client_for, django_capture_on_commit_callbacks
):
    find(world, completed, django_capture_on_commit_callbacks)
    find(world, completed, django_capture_on_commit_callbacks)  # a redelivered task adds nothing
    with tenant_context(world.tenant):
        profiles = list(Profile.objects.of_workset(completed.code))
    assert [(p.filename, p.state, p.format, p.owns_raw) for p in profiles] == [
        ("callgrind.out.77", "ready", "callgrind", False)
    ]
    page = client_for(world.carol).get(f"/worksets/{completed.code}/").content.decode()
    assert f"/profiles/{profiles[0].code}/" in page and "callgrind.out.77" in page


def test_importing_by_hand_takes_only_this_worksets_results(
    world, completed, api_for, django_capture_on_commit_callbacks
):
    alice = api_for(world.alice)
    key = f"{completed.results_prefix}profile/callgrind.out.77"
    with django_capture_on_commit_callbacks(execute=True):
        made = alice.post(
            "/api/v1/profiles", {"workset": completed.code, "key": key, "name": "By hand"}, format="json"
        )
    assert made.status_code == 202, made.json()
    assert alice.get(f"/api/v1/profiles/{made.json()['code']}").json()["state"] == "ready"
    again = alice.post("/api/v1/profiles", {"workset": completed.code, "key": key}, format="json")
    assert again.status_code == 400 and made.json()["code"] in again.json()["error"]["fields"]["key"][0]

    outside = alice.post(
        "/api/v1/profiles", {"workset": completed.code, "key": "inputs/HG002/x.fq"}, format="json"
    )
    assert outside.status_code == 400 and "key" in outside.json()["error"]["fields"]
    sneaky = alice.post(
        "/api/v1/profiles",
        {"workset": completed.code, "key": f"{completed.results_prefix}../../inputs/x"},
        format="json",
    )
    assert sneaky.status_code == 400
    missing = alice.post("/api/v1/profiles", {"workset": completed.code}, format="json")
    assert missing.status_code == 400 and "key" in missing.json()["error"]["fields"]
    mallory = api_for(world.mallory, world.other)
    theirs = mallory.post("/api/v1/profiles", {"workset": completed.code, "key": key}, format="json")
    assert theirs.status_code == 400 and "workset" in theirs.json()["error"]["fields"]


def test_a_search_whose_send_was_lost_is_made_by_beats_resend_sweep_once(
    world, completed, api_for, django_capture_on_commit_callbacks
):
    """The workset completed while Redis was down, so its search was never sent: beat's per-tenant sweep
    sends it once the workset has waited RUNYARD_RESEND_WAITING_SECONDS, and never again after."""
    from datetime import timedelta

    from django.utils import timezone

    from jobs.models import Workset
    from portal.celery import fan_out_to_tenants_task

    alice = api_for(world.alice)

    def profiles() -> list[dict]:
        return [
            p for p in alice.get("/api/v1/profiles").json()["results"] if p["source_ref"] == completed.code
        ]

    def found() -> list[tuple[str, str]]:
        return [(p["filename"], p["state"]) for p in profiles()]

    def sweep() -> None:
        with django_capture_on_commit_callbacks(execute=True):  # the found profiles' parses
            fan_out_to_tenants_task.delay("analysis.resend_waiting_task").get()

    def finished(seconds_ago: int) -> None:
        with tenant_context(world.tenant):
            finished_at = timezone.now() - timedelta(seconds=seconds_ago)
            Workset.objects.filter(pk=completed.pk).update(finished_at=finished_at)

    finished(10)
    sweep()
    assert found() == []  # completed just now: its own send may still be on its way
    finished(301)
    sweep()
    assert found() == [("callgrind.out.77", "ready")]
    assert alice.delete(f"/api/v1/profiles/{profiles()[0]['code']}").status_code == 204
    sweep()
    assert found() == []  # searched once: a profile deleted since is not imported again
