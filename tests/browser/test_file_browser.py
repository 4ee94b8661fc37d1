"""The file browser in real Chromium against daphne and moto's S3 server.

Everything the browser uploads stays in the bucket, so each test works in a folder of its own.
"""

import os
from pathlib import Path
from uuid import uuid4

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_sign_in_and_tokens import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SAMPLE_SHEET = b"sample,fastq_1,fastq_2\nS1,s1_R1.fq.gz,s1_R2.fq.gz\nS2,s2_R1.fq.gz,s2_R2.fq.gz\n"
DROP = """() => {
  const data = new DataTransfer();
  data.items.add(new File(["dropped on the zone"], "dropped.txt", { type: "text/plain" }));
  const zone = document.getElementById("dropzone");
  zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
}"""


def row(page: Page, name: str):
    return page.locator("#files-body tr").filter(has_text=name)


def upload_finished(page: Page, name: str) -> None:
    upload = page.locator(f".upload[data-name='{name}']")
    expect(upload.locator("progress")).to_have_attribute("value", "100")
    expect(upload).to_contain_text("100 % — done")
    expect(row(page, name)).to_be_visible()


def open_files_in_a_new_folder(page: Page, server) -> str:
    sign_in(page, server, "alice@example.com")
    page.get_by_role("link", name="Files", exact=True).click()
    expect(page).to_have_url(server.url("alpha", "/files/"))
    # the script has wired the page once it drew the first listing (before, a click submits the bare form)
    expect(page.get_by_test_id("files-table")).not_to_contain_text("Loading…")
    folder = f"run-{uuid4().hex[:8]}"
    page.get_by_placeholder("New folder name").fill(folder)
    page.get_by_role("button", name="Create folder").click()
    page.get_by_role("link", name=f"{folder}/").click()
    expect(page.get_by_test_id("breadcrumbs").locator("[aria-current]")).to_have_text(folder)
    expect(page).to_have_url(server.url("alpha", f"/files/?prefix={folder}%2F"))
    expect(page.get_by_test_id("files-empty")).to_have_text("No files yet — drop files here")
    return folder


def test_alice_uploads_browses_previews_and_downloads(page, portal_server, tmp_path, shots_dir):
    folder = open_files_in_a_new_folder(page, portal_server)
    sheet = tmp_path / "samples.csv"
    sheet.write_bytes(SAMPLE_SHEET)

    page.set_input_files("#file-input", str(sheet))
    upload_finished(page, "samples.csv")
    page.evaluate(DROP)
    upload_finished(page, "dropped.txt")

    row(page, "samples.csv").get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("preview")
    expect(preview.get_by_role("columnheader", name="fastq_2")).to_be_visible()
    expect(preview.get_by_role("cell", name="s2_R1.fq.gz")).to_be_visible()
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()  # one page only
    page.screenshot(path=str(shots_dir / "files.png"), full_page=True)

    with page.expect_download() as download:
        row(page, "samples.csv").get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "samples.csv"
    assert Path(download.value.path()).read_bytes() == SAMPLE_SHEET

    page.get_by_test_id("breadcrumbs").get_by_role("link", name="All files").click()
    expect(page.get_by_role("link", name=f"{folder}/")).to_be_visible()
    expect(row(page, "samples.csv")).to_have_count(0)


def test_a_large_file_goes_up_in_parts_with_one_progress_bar(page, portal_server, tmp_path):
    open_files_in_a_new_folder(page, portal_server)
    data = os.urandom(9 * 1024 * 1024 + 321)
    big = tmp_path / "reads.bin"
    big.write_bytes(data)

    page.set_input_files("#file-input", str(big))
    upload_finished(page, "reads.bin")
    expect(row(page, "reads.bin")).to_contain_text("9.0 MB")

    with page.expect_download() as download:
        row(page, "reads.bin").get_by_role("link", name="Download").click()
    assert Path(download.value.path()).read_bytes() == data


def test_an_api_error_shows_on_the_error_line(page, portal_server):
    open_files_in_a_new_folder(page, portal_server)
    page.get_by_placeholder("New folder name").fill("..")
    page.get_by_role("button", name="Create folder").click()
    expect(page.get_by_test_id("files-error")).to_contain_text("“.” or “..”")
