"""The cost data pages (/costs/data/…): every role reads them, admins and owners upload files, set rates
and budgets, the others do not get the forms and their POSTs are refused; the other tenant gets 404."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from analysis.models import CostIngest, RateSnapshot, Team

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples" / "costs"
PAGES = ("/costs/data/", "/costs/data/rates/", "/costs/data/teams/")


@pytest.fixture
def uploaded(client_for, world, django_capture_on_commit_callbacks):
    """Alice uploads the sample through the page; returns the ingest's page."""
    client = client_for(world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/costs/data/",
            {"kind": "jobs", "file": SimpleUploadedFile("heliox.json", (SAMPLES / "jobs.json").read_bytes())},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def test_every_role_reads_every_page_and_only_admins_get_the_forms(client_for, world, uploaded):
    for persona in ("alice", "bob", "carol"):
        client = client_for(getattr(world, persona))
        for path in (*PAGES, uploaded):
            assert client.get(path).status_code == 200, (persona, path)
        body = client.get("/costs/data/").content.decode()
        assert 'data-live-socket="/ws/costs/"' in body and "heliox.json" in body
        assert ('data-testid="upload-form"' in body) == (persona == "alice")
        rates = client.get("/costs/data/rates/").content.decode()
        assert ('data-testid="rate-form"' in rates) == (persona == "alice")
    report = client_for(world.carol).get(uploaded).content.decode()
    assert "Done" in report and 'data-testid="failed">4<' in report
    assert (
        "start_time" in report and "has no time zone" in report and "&#x27;tpu&#x27; is not one of" in report
    )


def test_an_empty_page_says_what_to_do(client_for, world):
    body = client_for(world.alice).get("/costs/data/").content.decode()
    assert "No uploads yet" in body
    assert "No rates yet" in client_for(world.carol).get("/costs/data/rates/").content.decode()
    assert "No teams yet" in client_for(world.carol).get("/costs/data/teams/").content.decode()


def test_admins_set_rates_and_budgets_on_the_pages(client_for, world, uploaded):
    alice = client_for(world.alice)
    response = alice.post(
        "/costs/data/rates/",
        {"day": "2026-01-10", "provider": "aws", "gpu_type": "a100", "usd_per_gpu_hour": "3"},
    )
    assert response.status_code == 302
    bad = alice.post(
        "/costs/data/rates/", {"day": "x", "provider": "aws", "gpu_type": "a100", "usd_per_gpu_hour": "-1"}
    )
    assert bad.status_code == 400 and 'data-testid="problem-day"' in bad.content.decode()
    assert alice.post("/costs/data/teams/", {"name": "Robotics", "budget_usd": "250"}).status_code == 302
    assert alice.post("/costs/data/teams/", {"name": "Robotics", "budget_usd": "-2"}).status_code == 400
    with tenant_context(world.tenant):
        assert RateSnapshot.objects.get().usd_per_gpu_hour == Decimal("3.0000")
        assert Team.objects.get(name="Robotics").budget_usd == Decimal("250.00")
    deleted = alice.post(
        "/costs/data/rates/", {"action": "delete", "day": "2026-01-10", "provider": "aws", "gpu_type": "a100"}
    )
    assert deleted.status_code == 302
    with tenant_context(world.tenant):
        assert not RateSnapshot.objects.exists()


def test_members_and_viewers_cannot_write(client_for, world, uploaded):
    for persona in ("bob", "carol"):
        client = client_for(getattr(world, persona))
        file = SimpleUploadedFile("x.json", b'{"jobs": []}')
        assert client.post("/costs/data/", {"kind": "jobs", "file": file}).status_code == 403
        assert client.post("/costs/data/teams/", {"name": "Vision", "budget_usd": "1"}).status_code == 403
        rate = {"day": "2026-01-10", "provider": "aws", "gpu_type": "a100", "usd_per_gpu_hour": "3"}
        assert client.post("/costs/data/rates/", rate).status_code == 403
    with tenant_context(world.tenant):
        assert CostIngest.objects.count() == 1 and not RateSnapshot.objects.exists()


def test_the_other_tenant_gets_404(client_for, world, uploaded):
    mallory = client_for(world.mallory, world.tenant)
    for path in (*PAGES, uploaded):
        assert mallory.get(path).status_code == 404, path
