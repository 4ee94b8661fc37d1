"""The dashboard's savings advice is cached between views (``analysis.cost_analytics.savings_advice``):
an ingest after a view shows in the next view, and another tenant's member still finds nothing."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from analysis.services.costs import start_cost_ingest
from tests.builders import load_cost_rows

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "analysis" / "demo_costs"
PERIOD = "/costs/?start=2026-01-01&end=2026-01-14"


@pytest.fixture
def sample(world):
    with tenant_context(world.tenant):
        load_cost_rows((SAMPLE / "heliox-jobs.json").read_text(), (SAMPLE / "rates.csv").read_text())


def page(client) -> str:
    response = client.get(PERIOD)
    assert response.status_code == 200
    return response.content.decode()


def test_an_ingest_after_a_view_changes_the_next_views_figures(
    client_for, world, sample, django_capture_on_commit_callbacks
):
    bob = client_for(world.bob)
    before = page(bob)
    assert 'data-testid="total-cost">$14,257.58<' in before
    assert "at stake <strong>$1,658.32</strong>" in before  # job-018's hours beyond 24 h
    assert "at stake <strong>$1,658.32</strong>" in page(bob)  # a second view: the advice from the cache
    # job-018 (8 × H100 on AWS) ends an hour later, on 2026-01-12 at $7.88: 8 × 7.88 = $63.04 more
    sample_jobs = json.loads((SAMPLE / "heliox-jobs.json").read_text())
    job = next(row for row in sample_jobs["jobs"] if row["job_id"] == "job-018")
    later = json.dumps({"jobs": [{**job, "end_time": "2026-01-12T06:45:00Z"}]}).encode()
    with tenant_context(world.tenant), django_capture_on_commit_callbacks(execute=True):
        start_cost_ingest(SimpleUploadedFile("later.json", later), kind="jobs", actor=world.alice)
    after = page(bob)
    assert 'data-testid="total-cost">$14,320.62<' in after
    assert "at stake <strong>$1,721.36</strong>" in after and "$1,658.32" not in after


def test_another_tenants_member_finds_no_cached_dashboard(client_for, world, sample):
    page(client_for(world.alice))
    assert client_for(world.mallory, world.tenant).get(PERIOD).status_code == 404
