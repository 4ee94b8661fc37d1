"""``/api/v1/analytics/{ingests,rates,teams,jobs}`` and ``/ws/costs/``: admins and owners write, every member
reads, bad input answers 400 with field messages, and the other tenant sees none of it."""

from datetime import date
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from analysis.models import CostRollup
from analysis.services.costs import start_cost_ingest
from portal.consumers import CLOSE_NOT_FOUND
from tests.live import live_socket, open_live_socket

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples" / "costs"


@pytest.fixture
def alice(api_for, world):
    return api_for(world.alice)


@pytest.fixture
def upload(alice, django_capture_on_commit_callbacks):
    def post(name: str, content: bytes, kind: str = "jobs", *, client=None):
        with django_capture_on_commit_callbacks(execute=True):
            return (client or alice).post(
                "/api/v1/analytics/ingests",
                {"file": SimpleUploadedFile(name, content), "kind": kind},
                format="multipart",
            )

    return post


def test_an_owner_uploads_a_file_and_reads_its_report(alice, upload):
    response = upload("heliox.json", (SAMPLES / "jobs.json").read_bytes())
    assert response.status_code == 202, response.json()
    code = response.json()["code"]

    report = alice.get(f"/api/v1/analytics/ingests/{code}").json()
    assert (report["state"], report["progress"], report["format"], report["kind"]) == (
        "done",
        100,
        "json",
        "jobs",
    )
    assert report["counts"]["jobs"] == {"inserted": 4, "updated": 0, "unchanged": 0}
    assert report["failed"] == 4 and len(report["failures"]) == 4
    assert report["failures"][0] == {"row": 3, "kind": "team", "field": "name", "message": "name is required"}
    assert [item["code"] for item in alice.get("/api/v1/analytics/ingests").json()["results"]] == [code]


def test_members_and_viewers_read_but_only_admins_and_owners_write(api_for, world, upload):
    upload("heliox.json", (SAMPLES / "jobs.json").read_bytes())
    bob, carol = api_for(world.bob), api_for(world.carol)

    assert upload("x.json", b'{"jobs": []}', client=bob).status_code == 403
    assert bob.post("/api/v1/analytics/rates", {}, format="json").status_code == 403
    assert carol.patch("/api/v1/analytics/teams/Vision", {"budget_usd": 1}, format="json").status_code == 403
    for path in ("ingests", "rates", "teams", "jobs"):
        assert carol.get(f"/api/v1/analytics/{path}").status_code == 200, path
    assert [team["name"] for team in carol.get("/api/v1/analytics/teams").json()["results"]] == [
        "Robotics",
        "Speech",
        "Vision",
    ]


def test_bad_input_answers_400_with_field_messages(alice, upload):
    missing = alice.post("/api/v1/analytics/ingests", {"kind": "jobs"}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["error"]["fields"]
    wrong_kind = upload("x.csv", b"a\n", kind="bills")
    assert wrong_kind.status_code == 400 and "kind" in wrong_kind.json()["error"]["fields"]
    empty = upload("x.csv", b"")
    assert empty.status_code == 400 and "file" in empty.json()["error"]["fields"]
    rate = alice.post(
        "/api/v1/analytics/rates",
        {"day": "2026-13-01", "provider": "ibm", "gpu_type": "a100", "usd_per_gpu_hour": "-1"},
        format="json",
    )
    assert rate.status_code == 400
    assert set(rate.json()["error"]["fields"]) == {"day", "provider", "usd_per_gpu_hour"}
    assert "not one of" in rate.json()["error"]["fields"]["provider"][0]


def test_rates_are_set_changed_filtered_and_deleted_and_the_rollups_follow(alice, upload, world):
    upload("heliox.json", (SAMPLES / "jobs.json").read_bytes())
    created = alice.post(
        "/api/v1/analytics/rates",
        {"day": "2026-01-10", "provider": " AWS", "gpu_type": "A100", "usd_per_gpu_hour": "3.5"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["source"] == "operator" and created.json()["updated_by"] == "alice@example.com"
    alice.post(
        "/api/v1/analytics/rates",
        {"day": "2026-01-10", "provider": "gcp", "gpu_type": "h100", "usd_per_gpu_hour": "4"},
        format="json",
    )
    vision_day = {"day": date(2026, 1, 10), "team__name": "Vision"}

    def vision_cost():
        with tenant_context(world.tenant):
            return CostRollup.objects.get(**vision_day).cost

    assert vision_cost() == 28.0  # 8 GPU-hours × $3.50
    listed = alice.get(
        "/api/v1/analytics/rates", {"provider": "aws", "start": "2026-01-10", "end": "2026-01-10"}
    )
    assert [(r["day"], r["provider"], r["usd_per_gpu_hour"]) for r in listed.json()["results"]] == [
        ("2026-01-10", "aws", "3.5000")
    ]

    changed = alice.put(
        "/api/v1/analytics/rates/2026-01-10/aws/a100", {"usd_per_gpu_hour": "2"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["usd_per_gpu_hour"] == "2.0000"
    assert vision_cost() == 16.0
    assert alice.delete("/api/v1/analytics/rates/2026-01-10/aws/a100").status_code == 204
    assert vision_cost() == 0.0
    assert alice.get("/api/v1/analytics/rates/2026-01-10/aws/a100").status_code == 404


def test_team_budgets_are_set_and_cleared(alice, upload):
    upload("heliox.json", (SAMPLES / "jobs.json").read_bytes())

    patched = alice.patch("/api/v1/analytics/teams/Speech", {"budget_usd": "750.5"}, format="json")
    assert patched.status_code == 200 and patched.json()["budget_usd"] == "750.50"
    assert alice.get("/api/v1/analytics/teams/Speech").json()["budget_usd"] == "750.50"
    refused = alice.patch("/api/v1/analytics/teams/Speech", {"budget_usd": "-3"}, format="json")
    assert refused.status_code == 400 and "budget_usd" in refused.json()["error"]["fields"]
    cleared = alice.patch("/api/v1/analytics/teams/Speech", {"budget_usd": None}, format="json")
    assert cleared.json()["budget_usd"] is None
    assert alice.patch("/api/v1/analytics/teams/Nobody", {"budget_usd": 1}, format="json").status_code == 404


def test_jobs_are_filtered_and_paged_with_a_constant_number_of_queries(alice, upload):
    upload("heliox.json", (SAMPLES / "jobs.json").read_bytes())
    upload("more.csv", (SAMPLES / "jobs.csv").read_bytes())

    def ids(**query):
        return [job["job_id"] for job in alice.get("/api/v1/analytics/jobs", query).json()["results"]]

    assert ids(team="Vision") == ["c-1", "j-3", "j-1"]
    assert ids(model="ResNet-50", status="running") == ["j-3"]
    assert ids(provider="gcp", start="2026-01-11") == ["c-2"]
    assert ids(end="2026-01-10") == ["j-1", "j-2"]
    assert ids(start="2026-01-11", end="2026-01-11") == ["j-3", "j-4", "j-1"]
    bad = alice.get("/api/v1/analytics/jobs", {"gpu_type": "tpu"})
    assert bad.status_code == 400 and "gpu_type" in bad.json()["error"]["fields"]

    first = alice.get("/api/v1/analytics/jobs", {"page_size": 2}).json()
    second = alice.get(first["next"]).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 2
    with CaptureQueriesContext(connection) as few:
        alice.get("/api/v1/analytics/jobs", {"page_size": 2})
    with CaptureQueriesContext(connection) as many:
        alice.get("/api/v1/analytics/jobs", {"page_size": 6})
    assert len(many) == len(few)


def test_the_other_tenant_sees_none_of_it(api_for, client_for, world, upload):
    code = upload("heliox.json", (SAMPLES / "jobs.json").read_bytes()).json()["code"]
    mallory_home = api_for(world.mallory, tenant=world.other)
    for path in ("ingests", "rates", "teams", "jobs"):
        assert mallory_home.get(f"/api/v1/analytics/{path}").json()["results"] == [], path
    assert mallory_home.get(f"/api/v1/analytics/ingests/{code}").status_code == 404
    assert mallory_home.get("/api/v1/analytics/teams/Vision").status_code == 404
    assert mallory_home.get("/api/v1/analytics/jobs/j-1").status_code == 404
    visitor = client_for(world.mallory, world.tenant)
    for path in (f"ingests/{code}", "ingests", "teams/Vision", "jobs", "rates"):
        assert visitor.get(f"/api/v1/analytics/{path}").status_code == 404, path


# -- live ---------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("private_channel_layer", "consumer_connection")
def test_a_viewer_watches_an_ingest_to_the_end_and_mallory_is_refused(
    world, session_cookie, django_capture_on_commit_callbacks
):
    content = (SAMPLES / "jobs.json").read_bytes()

    def start():
        with tenant_context(world.tenant), django_capture_on_commit_callbacks(execute=True):
            return start_cost_ingest(
                SimpleUploadedFile("heliox.json", content), kind="jobs", actor=world.alice
            ).code

    carol_cookie, mallory_cookie = session_cookie(world.carol), session_cookie(world.mallory)

    async def talk():
        carol = await open_live_socket("/ws/costs/", "alpha", carol_cookie)
        code = await sync_to_async(start)()
        seen, changed = [], 0
        while not seen or seen[-1]["state"] not in ("done", "failed"):
            message = await carol.receive_json_from(timeout=30)
            if message["type"] == "costs.changed":
                changed += 1
            else:
                seen.append(message["ingest"])
        await carol.disconnect()
        mallory = live_socket("/ws/costs/", "alpha", mallory_cookie)
        refused = await mallory.connect()
        return code, seen, changed, refused

    code, seen, changed, refused = async_to_sync(talk)()
    assert {update["code"] for update in seen} == {code}
    assert [update["state"] for update in seen][0] == "pending" and seen[-1]["state"] == "done"
    assert seen[-1]["progress"] == 100 and seen[-1]["counts"]["jobs"]["inserted"] == 4
    assert changed >= 1
    assert refused == (False, CLOSE_NOT_FOUND)


def test_a_rate_key_that_is_not_day_provider_gpu_is_404(alice):
    for key in ("x", "2026-01-10/aws", "2026-13-10/aws/a100", "2026-01-10/aws/a100/x"):
        assert alice.get(f"/api/v1/analytics/rates/{key}").status_code == 404, key
