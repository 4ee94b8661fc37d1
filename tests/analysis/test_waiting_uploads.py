"""Profile and cost uploads while the Celery broker refuses connections (Redis down): the upload answers
as usual and its row waits; once the broker is back, beat's resend sweep (fanned out per tenant) sends the
parse or ingest again and it runs once, however often it is delivered."""

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context

import analysis.tasks  # noqa: F401  (the worker autodiscovers it; this process may not have yet)
from analysis.models import CostIngest, Profile
from portal.celery import fan_out_to_tenants_task
from tenants.models import AuditEvent
from tests.broker import broker_down

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"
JOBS = Path(__file__).parent / "samples" / "costs" / "jobs.json"


@pytest.fixture
def alice(api_for, world):
    return api_for(world.alice)


@pytest.fixture
def upload_both(alice, django_capture_on_commit_callbacks):
    """Alice uploads a profile and a cost file through the API; the sends run when each upload commits."""

    def run() -> tuple[str, str]:
        with django_capture_on_commit_callbacks(execute=True):
            profile = alice.post(
                "/api/v1/profiles",
                {"file": SimpleUploadedFile("callgrind.out.1", (DEMO / "before.callgrind").read_bytes())},
                format="multipart",
            )
        with django_capture_on_commit_callbacks(execute=True):
            ingest = alice.post(
                "/api/v1/analytics/ingests",
                {"file": SimpleUploadedFile("heliox.json", JOBS.read_bytes()), "kind": "jobs"},
                format="multipart",
            )
        assert (profile.status_code, ingest.status_code) == (202, 202), (profile.content, ingest.content)
        return profile.json()["code"], ingest.json()["code"]

    return run


def states(alice, profile: str, ingest: str) -> tuple[str, str]:
    return (
        alice.get(f"/api/v1/profiles/{profile}").json()["state"],
        alice.get(f"/api/v1/analytics/ingests/{ingest}").json()["state"],
    )


def sweep() -> list[str]:
    """What beat does: the fan-out sends the sweep once per active tenant, each in its schema."""
    return fan_out_to_tenants_task.delay("analysis.resend_waiting_task").get()


def waited(tenant, profile: str, ingest: str, seconds: int = 301) -> None:
    """The rows were stored ``seconds`` ago (the sweep leaves younger ones to their first send)."""
    before = timezone.now() - timedelta(seconds=seconds)
    with tenant_context(tenant):
        Profile.objects.filter(code=profile).update(created_at=before)
        CostIngest.objects.filter(code=ingest).update(created_at=before)


@pytest.fixture
def uploaded_while_down(upload_both, caplog):
    """Alice's two uploads while the broker is down; the broker is back afterwards."""
    with broker_down(), caplog.at_level(logging.WARNING, logger="analysis.services.waiting"):
        codes = upload_both()
    return codes, caplog.text


def test_uploads_while_the_broker_is_down_answer_as_usual_and_the_sweep_runs_them_once(
    uploaded_while_down, alice, world
):
    (profile, ingest), logged = uploaded_while_down
    assert profile in logged and ingest in logged
    assert states(alice, profile, ingest) == ("pending", "pending")

    sweep()
    assert states(alice, profile, ingest) == ("pending", "pending")  # younger than the setting: left alone

    waited(world.tenant, profile, ingest)
    sweep()
    assert states(alice, profile, ingest) == ("ready", "done")
    sweep()  # nothing waits any more: sends nothing
    analysis.tasks.parse_profile_task.delay(profile, 1)  # the first send after all, delivered late
    analysis.tasks.ingest_costs_task.delay(ingest)

    report = alice.get(f"/api/v1/analytics/ingests/{ingest}").json()
    assert report["counts"]["jobs"] == {"inserted": 4, "updated": 0, "unchanged": 0}
    assert len(alice.get("/api/v1/analytics/jobs").json()["results"]) == 4
    parsed = AuditEvent.objects.filter(action="profile.parsed", target=profile)
    assert parsed.count() == 1


def test_a_second_send_finds_the_parse_claimed_and_does_nothing(alice, world, uploaded_while_down):
    (profile, _), _ = uploaded_while_down
    with tenant_context(world.tenant):  # a worker has claimed it and is parsing
        Profile.objects.filter(code=profile).update(state="parsing")
    assert analysis.tasks.parse_profile_task.delay(profile, 1).get() == "parsing"
    assert alice.get(f"/api/v1/profiles/{profile}").json()["state"] == "parsing"
    assert not AuditEvent.objects.filter(action="profile.parsed", target=profile).exists()


def test_the_sweep_in_betas_schema_leaves_alphas_waiting_rows_alone(
    uploaded_while_down, alice, world, api_for
):
    (profile, ingest), _ = uploaded_while_down
    waited(world.tenant, profile, ingest)
    mallory = api_for(world.mallory, world.other)

    sent = analysis.tasks.resend_waiting_task.apply_async(headers={"_schema_name": world.other.schema_name})
    assert sent.get() == []
    assert states(alice, profile, ingest) == ("pending", "pending")
    assert mallory.get(f"/api/v1/profiles/{profile}").status_code == 404
    assert mallory.get(f"/api/v1/analytics/ingests/{ingest}").status_code == 404
