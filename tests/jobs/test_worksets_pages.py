"""Workset pages: list, new, detail for each role; the new-workset form end to end; buttons by role."""

import io
from uuid import uuid4

import pytest
import yaml
from django_tenants.utils import tenant_context

from jobs.models import State, Workset
from tenants.models import Bucket
from tenants.storage import storage_for
from tests.builders import make_workset

pytestmark = pytest.mark.django_db
ROLES = ("alice", "bob", "carol")


@pytest.fixture
def fastqs(world):
    """Two FASTQ pairs in alpha's bucket under a prefix of this test."""
    prefix = f"pg-{uuid4().hex[:8]}/"
    storage = storage_for(Bucket.objects.get(tenant=world.tenant))
    for sample in ("NA1", "NA2"):
        for read in (1, 2):
            storage.upload(f"{prefix}{sample}_R{read}.fastq.gz", io.BytesIO(b"@r\nACGT\n+\nIIII\n"))
    return prefix


def form_data(prefix: str, **overrides) -> dict:
    data = {
        "source": "form",
        "intent": "submit",
        "name": "Page batch",
        "pipeline": "germline",
        "reference_genome": "GRCh38",
        "priority": "normal",
        "max_retries": "2",
        "sample_id": ["NA1", "NA2", ""],
        "fastq_r1": [f"{prefix}NA1_R1.fastq.gz", f"{prefix}NA2_R1.fastq.gz", ""],
        "fastq_r2": [f"{prefix}NA1_R2.fastq.gz", f"{prefix}NA2_R2.fastq.gz", ""],
        "coverage": ["", "40", ""],
    }
    return data | overrides


@pytest.mark.parametrize("role", ROLES)
def test_the_list_renders_for_each_role_with_a_nav_link(client_for, world, role):
    workset = make_workset(world.tenant, state="completed")
    response = client_for(getattr(world, role)).get("/worksets/")
    assert response.status_code == 200
    html = response.content.decode()
    assert workset.code in html and 'href="/worksets/"' in html
    assert ('href="/worksets/new/"' in html) == (role != "carol")


def test_the_list_has_a_clear_empty_state(client_for, world):
    response = client_for(world.bob).get("/worksets/?state=running")
    assert "No worksets match these filters" in response.content.decode()
    with tenant_context(world.tenant):
        Workset.objects.all().delete()
    assert "No worksets yet — " in client_for(world.bob).get("/worksets/").content.decode()


def test_the_list_filters_and_pages(client_for, world):
    failed = make_workset(world.tenant, state="failed", name="Failed one")
    for _ in range(3):
        make_workset(world.tenant)
    client = client_for(world.carol)
    html = client.get("/worksets/?state=failed").content.decode()
    assert failed.code in html and html.count("giab-batch-") == 0
    from jobs.views import worksets as views

    views.PAGE_SIZE, size = 2, views.PAGE_SIZE
    try:
        first = client.get("/worksets/")
        assert 'rel="next"' in first.content.decode()
    finally:
        views.PAGE_SIZE = size


@pytest.mark.parametrize("role", ROLES)
def test_the_detail_page_renders_for_each_role_with_buttons_by_role(client_for, world, role):
    workset = make_workset(world.tenant, state="failed", actor=world.bob)
    html = client_for(getattr(world, role)).get(f"/worksets/{workset.code}/").content.decode()
    assert workset.code in html and "from catalogue constants" in html
    assert "History" in html and "Validation passed" in html and "HG001" in html
    assert ("/retry/" in html) == (role != "carol")
    assert "/cancel/" not in html  # a failed workset cannot be cancelled


def test_viewers_get_403_on_the_new_page_and_actions(client_for, world):
    workset = make_workset(world.tenant, state="queued")
    client = client_for(world.carol)
    assert client.get("/worksets/new/").status_code == 403
    assert client.post(f"/worksets/{workset.code}/cancel/").status_code == 403
    with tenant_context(world.tenant):
        assert Workset.objects.get(pk=workset.pk).state == State.QUEUED


@pytest.mark.parametrize("role", ("alice", "bob"))
def test_the_new_page_renders_for_members_and_owners(client_for, world, role):
    html = client_for(getattr(world, role)).get("/worksets/new/").content.decode()
    assert "New workset" in html and "germline" in html and "GRCh38" in html
    assert '<option value="GRCh38" selected>' in html  # the default reference, not the list's first


def test_the_list_filters_pipelines_from_the_catalogue(client_for, world):
    html = client_for(world.carol).get("/worksets/?pipeline=wes").content.decode()
    assert '<select name="pipeline" id="id_pipeline">' in html
    assert '<option value="wes" selected>' in html and '<option value="test_help" >' in html


def test_checking_shows_the_estimate_and_submitting_queues_it(client_for, world, fastqs):
    client = client_for(world.bob)
    checked = client.post("/worksets/new/", form_data(fastqs, intent="check"))
    assert checked.status_code == 200
    html = checked.content.decode()
    assert "Ready to submit" in html and "from catalogue constants" in html
    assert not Workset.objects.filter(name="Page batch").exists()
    submitted = client.post("/worksets/new/", form_data(fastqs))
    assert submitted.status_code == 302
    with tenant_context(world.tenant):
        workset = Workset.objects.get(name="Page batch")
        assert submitted["Location"] == f"/worksets/{workset.code}/"
        assert workset.state == State.QUEUED and workset.max_retries == 2
        assert [s["sample_id"] for s in workset.spec["samples"]] == ["NA1", "NA2"]
        assert workset.spec["samples"][1]["coverage"] == 40
    detail = client.get(submitted["Location"]).content.decode()
    assert "queued" in detail and "Submitted" in detail


def test_problems_show_next_to_their_fields_and_nothing_is_saved(client_for, world, fastqs):
    data = form_data(fastqs, export_uri="s3://someone-elses-bucket/out/")
    data["fastq_r1"] = [f"{fastqs}missing_R1.fastq.gz", "../etc/passwd", ""]
    with tenant_context(world.tenant):
        before = Workset.objects.count()  # browser tests may have left committed worksets behind
    response = client_for(world.bob).post("/worksets/new/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="problem-export_uri">WS-CFG-011' in html
    assert 'data-testid="problem-samples-0-fastq_r1">WS-CFG-004' in html
    assert "WS-CFG-005" in html
    assert 'value="NA2"' in html  # what was typed stays in the form
    with tenant_context(world.tenant):
        assert Workset.objects.count() == before


def test_an_uploaded_yaml_fills_the_form(client_for, world, fastqs):
    spec = {
        "name": "From a file",
        "pipeline": "germline",
        "reference_genome": "hg38",
        "priority": "low",
        "samples": [{"sample_id": "NA1", "fastq_r1": f"{fastqs}NA1_R1.fastq.gz"}],
    }
    upload = io.BytesIO(yaml.safe_dump(spec).encode())
    upload.name = "work.yaml"
    response = client_for(world.bob).post("/worksets/new/", {"source": "upload", "spec_file": upload})
    html = response.content.decode()
    assert 'data-testid="filled"' in html and 'value="From a file"' in html
    assert f'value="{fastqs}NA1_R1.fastq.gz"' in html


def test_a_bucket_prefix_fills_the_sample_rows(client_for, world, fastqs):
    response = client_for(world.bob).post("/worksets/new/", {"source": "prefix", "prefix": fastqs})
    html = response.content.decode()
    assert 'data-testid="filled"' in html
    assert f'value="{fastqs}NA1_R1.fastq.gz"' in html and f'value="{fastqs}NA2_R2.fastq.gz"' in html
    empty = client_for(world.bob).post("/worksets/new/", {"source": "prefix", "prefix": "nothing-here/"})
    assert "No FASTQ pairs" in empty.content.decode()


def test_a_schema_problem_shows_next_to_its_field(client_for, world, fastqs):
    html = client_for(world.bob).post("/worksets/new/", form_data(fastqs, name="x")).content.decode()
    assert 'data-testid="problem-name">WS-CFG-001' in html


def test_buttons_cancel_retry_archive_restore_and_approve(client_for, world, fastqs):
    from tenants.models import Quota

    client = client_for(world.bob)
    client.post("/worksets/new/", form_data(fastqs))
    with tenant_context(world.tenant):
        workset = Workset.objects.get(name="Page batch")
    client.post(f"/worksets/{workset.code}/cancel/")
    client.post(f"/worksets/{workset.code}/archive/")
    with tenant_context(world.tenant):
        assert Workset.objects.get(pk=workset.pk).state == State.ARCHIVED
    client.post(f"/worksets/{workset.code}/restore/")
    retried = client.post(f"/worksets/{workset.code}/retry/")
    with tenant_context(world.tenant):
        retry = Workset.objects.get(retry_of=workset)
    assert retried["Location"] == f"/worksets/{retry.code}/"
    again = client.post(f"/worksets/{workset.code}/restore/", follow=True)
    assert "cannot go from" in again.content.decode()

    Quota.objects.filter(tenant=world.tenant).update(billing_hold=True)
    held = make_workset(world.tenant, actor=world.bob)
    Quota.objects.filter(tenant=world.tenant).update(billing_hold=False)
    assert ">Approve<" not in client.get(f"/worksets/{held.code}/").content.decode()
    owner = client_for(world.alice)
    assert ">Approve<" in owner.get(f"/worksets/{held.code}/").content.decode()
    owner.post(f"/worksets/{held.code}/approve/")
    with tenant_context(world.tenant):
        assert Workset.objects.get(pk=held.pk).state == State.QUEUED


def test_a_member_of_another_tenant_gets_404_on_the_pages(client_for, world):
    workset = make_workset(world.tenant, state="failed")
    on_alpha = client_for(world.mallory, world.tenant)
    for url in ("/worksets/", "/worksets/new/", f"/worksets/{workset.code}/"):
        assert on_alpha.get(url).status_code == 404, url
    assert on_alpha.post(f"/worksets/{workset.code}/retry/").status_code == 404
    on_beta = client_for(world.mallory, world.other)
    assert on_beta.get(f"/worksets/{workset.code}/").status_code == 404
    assert on_beta.post(f"/worksets/{workset.code}/retry/").status_code == 404
    with tenant_context(world.tenant):
        assert not Workset.objects.filter(retry_of=workset).exists()
