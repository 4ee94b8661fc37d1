"""The YAML generator in real Chromium against daphne and moto's S3 server: fill the form, watch the preview,
discover FASTQ pairs from a bucket prefix, import a CSV and download the three files."""

import io
from pathlib import Path
from uuid import uuid4

import pytest
import yaml
from playwright.sync_api import Page, expect

from tenants.models import Bucket
from tenants.storage import storage_for
from tests.browser.test_sign_in_and_tokens import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def open_generator(page: Page, server) -> None:
    sign_in(page, server, "alice@example.com")
    page.get_by_role("link", name="YAML generator").click()
    expect(page).to_have_url(server.url("alpha", "/worksets/generator/"))
    expect(page.get_by_role("heading", name="YAML generator")).to_be_visible()


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
