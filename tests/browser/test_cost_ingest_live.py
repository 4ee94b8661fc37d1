"""A cost ingest followed live in real Chromium: alice uploads a jobs file on /costs/data/, opens the list
again while the upload waits, and its row reaches "Done" over /ws/costs/ without a reload, once a real
Celery worker ingests it.

daphne and the worker are the profile browser test's (its settings, queue and channel-layer prefix);
the worker starts only after the list is live, so the page sees the ingest happen rather than find it done.
A tenant of its own (unique slug, alice its owner) keeps the ingested jobs out of other tests' figures.
"""

from pathlib import Path
from uuid import uuid4

import pytest
from playwright.sync_api import expect

from tests.analysis.test_profile_browser import isolated_env, server, worker  # noqa: F401 - fixtures
from tests.browser.conftest import PAGE_TIMEOUT_MS
from tests.browser.test_sign_in_and_tokens import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

JOBS = Path(__file__).resolve().parents[1] / "analysis" / "samples" / "costs" / "jobs.json"
INGEST_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def alices_tenant(django_db_blocker, world):
    from tests.builders import make_tenant

    with django_db_blocker.unblock():
        return make_tenant(f"ingest-{uuid4().hex[:8]}", owner_email=world.alice.email)


@pytest.fixture
def page(browser, server):  # noqa: F811 - this module's daphne, not the shared one
    context = browser.new_context(color_scheme="light", viewport={"width": 1200, "height": 800})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    yield context.new_page()
    context.close()


def test_an_uploaded_jobs_file_reaches_done_in_the_list_without_reload(
    page,
    server,  # noqa: F811
    worker,  # noqa: F811
    alices_tenant,
):
    slug = alices_tenant.slug
    sign_in(page, server, "alice@example.com", slug=slug)
    page.goto(server.url(slug, "/costs/data/"))
    page.locator("input[type=file]").set_input_files(str(JOBS))
    page.get_by_test_id("upload").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("jobs.json")
    code = page.url.rstrip("/").rsplit("/", 1)[-1]

    page.goto(server.url(slug, "/costs/data/"))
    row = page.locator(f'[data-ingest-row="{code}"]')
    expect(row.locator("[data-ingest-state]")).to_have_text("Waiting")
    expect(page.locator("[data-live-status]")).to_have_attribute("data-live-status", "live")
    page.evaluate("window.__notReloaded = true")

    worker()

    expect(row.locator("[data-ingest-state]")).to_have_text("Done", timeout=INGEST_TIMEOUT_MS)
    expect(row.locator("[data-ingest-progress]")).to_have_js_property("value", 100)
    expect(row.locator("[data-ingest-failed]")).to_have_text("4")  # the sample's refused rows, drawn live
    assert page.evaluate("window.__notReloaded === true")
