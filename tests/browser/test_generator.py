"""The YAML generator in real Chromium against daphne and moto's S3 server: fill the form, watch the preview,
discover FASTQ pairs from a bucket prefix, import a CSV and download the three files; check, estimate and
submit the workset and land on its page, queued."""

import io
import re
from pathlib import Path
from uuid import uuid4

import pytest
import yaml
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from jobs.models import Workset
from tenants.models import Bucket
from tenants.storage import storage_for
from tests.browser.test_sign_in_and_tokens import sign_in
from tests.builders import committed

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def open_generator(page: Page, server) -> None:
    sign_in(page, server, "alice@example.com")
    page.get_by_role("link", name="YAML generator").click()
    expect(page).to_have_url(server.url("alpha", "/worksets/generator/"))
    expect(page.get_by_role("heading", name="YAML generator")).to_be_visible()
    expect(page.get_by_test_id("preview")).to_contain_text("pipeline:")  # the script is running: drawn by it


def downloaded(page: Page, button: str) -> tuple[str, str]:
    with page.expect_download() as download:
        page.get_by_role("button", name=button).click()
    return download.value.suggested_filename, Path(download.value.path()).read_text()


def test_alice_builds_a_workset_from_her_bucket_and_downloads_it(page, portal_server, world, shots_dir):
    prefix = f"gen-{uuid4().hex[:8]}/"
    storage = storage_for(Bucket.objects.get(tenant=world.tenant))
    for name in ("HG002_S1_L001_R1_001.fastq.gz", "HG002_S1_L001_R2_001.fastq.gz", "HG003_R1.fq.gz",
                 "HG003_R2.fq.gz", "orphan_R1.fq.gz"):  # fmt: skip
        storage.upload(prefix + name, io.BytesIO(b"@r\nACGT\n+\nIIII\n"))
    open_generator(page, portal_server)
    preview = page.get_by_test_id("preview")

    page.get_by_label("Name").fill("Browser trio")
    page.get_by_label("Pipeline").select_option("wgs")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_label("Max retries").fill("5")
    expect(preview).to_contain_text("name: Browser trio")
    expect(preview).to_contain_text("priority: urgent")
    expect(preview).to_contain_text("max_retries: 5")
    expect(page.get_by_test_id("problems")).to_contain_text("samples")  # no samples yet

    page.get_by_label("Find FASTQ pairs under a folder of your bucket").fill(prefix)
    page.get_by_role("button", name="Discover").click()
    expect(page.get_by_test_id("samples-note")).to_contain_text("2 pairs found; without a mate: ")
    expect(page.get_by_test_id("samples-note")).to_contain_text("orphan_R1.fq.gz")
    expect(page.get_by_label("Sample 1 ID")).to_have_value("HG002")
    expect(preview).to_contain_text(f"fastq_r1: {prefix}HG003_R1.fq.gz")
    expect(page.get_by_test_id("problems")).to_be_empty()
    page.screenshot(path=str(shots_dir / "generator.png"), full_page=True)

    page.get_by_label("Sample 2 coverage").fill("45")
    expect(preview).to_contain_text("coverage: 45")
    page.get_by_label("Format").select_option("stage_samples_tsv")
    expect(preview).to_contain_text("RUN_ID\tSAMPLE_ID")

    name, text = downloaded(page, "Download samples YAML")
    spec = yaml.safe_load(text)
    assert name == "browser-trio.yaml"
    assert [s["sample_id"] for s in spec["samples"]] == ["HG002", "HG003"] and spec["max_retries"] == 5
    name, text = downloaded(page, "Download daylily_work.yaml")
    assert name == "daylily_work.yaml" and "dy-r:" in text and "export_uri:" in text
    name, text = downloaded(page, "Download stage_samples.tsv")
    assert name == "stage_samples.tsv" and len(text.splitlines()) == 3


def test_a_csv_import_fills_the_rows_and_rows_can_be_removed(page, portal_server, tmp_path):
    open_generator(page, portal_server)
    sheet = tmp_path / "samples.csv"
    sheet.write_text("sample,r1,r2\nS1,in/S1_R1.fq.gz,in/S1_R2.fq.gz\nS2,in/S2_R1.fq.gz,\n")
    page.set_input_files("#g-csv", str(sheet))
    expect(page.get_by_test_id("samples-note")).to_have_text("2 samples imported from samples.csv.")
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("sample_id: S2")
    page.get_by_role("button", name="Remove sample 1").click()
    expect(preview).not_to_contain_text("sample_id: S1")
    page.get_by_role("button", name="Add sample").click()
    page.get_by_label("Sample 2 ID").fill("S9")
    page.get_by_label("Sample 2 R1").fill("in/S9.fq.gz")
    expect(preview).to_contain_text("sample_id: S9")


def test_discovering_outside_the_bucket_is_refused(page, portal_server):
    open_generator(page, portal_server)
    page.get_by_label("Find FASTQ pairs under a folder of your bucket").fill("s3://someone-elses-bucket/")
    page.get_by_role("button", name="Discover").click()
    expect(page.get_by_test_id("generator-error")).to_contain_text("not this tenant's bucket")


def test_alice_checks_estimates_and_submits_a_workset_and_sees_it_queued(
    page, portal_server, world, shots_dir
):
    prefix = f"sub-{uuid4().hex[:8]}/"
    storage = storage_for(Bucket.objects.get(tenant=world.tenant))
    for name in ("NA1_R1.fq.gz", "NA1_R2.fq.gz", "NA2_R1.fq.gz", "NA2_R2.fq.gz"):
        storage.upload(prefix + name, io.BytesIO(b"@r\nACGT\n+\nIIII\n"))
    name = f"Submitted {prefix[4:12]}"
    open_generator(page, portal_server)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Pipeline").select_option("germline")
    page.get_by_label("Reference genome").select_option("GRCh38")
    page.get_by_label("Find FASTQ pairs under a folder of your bucket").fill(prefix)
    page.get_by_role("button", name="Discover").click()
    expect(page.get_by_label("Sample 2 R1")).to_have_value(f"{prefix}NA2_R1.fq.gz")
    problems, check_status = page.get_by_test_id("check-problems"), page.get_by_test_id("check-status")

    page.get_by_role("button", name="Check and estimate").click()
    expect(check_status).to_contain_text("Valid")
    expect(problems.locator("li.problem-error")).to_have_count(0)
    estimate = page.get_by_test_id("check-estimate")
    expect(estimate).to_be_visible()
    expect(estimate).to_contain_text("$")
    expect(estimate).to_contain_text("vCPU-hours")
    expect(page.get_by_test_id("check-estimate-basis")).to_have_text(
        re.compile(r"estimated, from (catalogue constants|\d+ past runs?)")
    )

    r1 = page.get_by_label("Sample 2 R1")
    r1.fill(f"{prefix}missing_R1.fq.gz")
    page.get_by_role("button", name="Check and estimate").click()
    expect(problems).to_contain_text(
        "WS-CFG-004 samples[1].fastq_r1: not found in bucket (fix: upload it or correct the path)"
    )
    expect(problems.locator("li.problem-error")).to_have_count(1)
    expect(r1).to_have_attribute("aria-invalid", "true")
    expect(r1).to_have_class(re.compile(r"\binvalid\b"))
    expect(page.get_by_label("Sample 1 R1")).not_to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(shots_dir / "generator-check.png"), full_page=True)

    page.get_by_role("button", name="Submit workset").click()  # refused: the same messages, nothing stored
    expect(check_status).to_contain_text("Not submitted")
    expect(problems).to_contain_text("WS-CFG-004 samples[1].fastq_r1: not found in bucket")
    expect(r1).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(portal_server.url("alpha", "/worksets/generator/"))
    with tenant_context(world.tenant):
        assert not Workset.objects.filter(name=name).exists()

    r1.fill(f"{prefix}NA2_R1.fq.gz")
    expect(r1).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Submit workset").click()
    expect(page).to_have_url(re.compile(r"/worksets/submitted-[0-9a-f]{8}-[0-9a-f]{8}/$"))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(name)
    expect(heading.get_by_test_id("state")).to_have_text("queued")
    with tenant_context(world.tenant):
        workset = Workset.objects.get(name=name)
    assert workset.state == "queued" and page.url.endswith(f"/worksets/{workset.code}/")
    committed(world.tenant, lambda: Workset.objects.filter(pk=workset.pk).delete())  # off the queue again
    assert [s["fastq_r1"] for s in workset.spec["samples"]] == [
        prefix + "NA1_R1.fq.gz",
        prefix + "NA2_R1.fq.gz",
    ]
