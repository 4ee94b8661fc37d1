"""A profile's life in real Chromium: alice uploads the demo's before.callgrind through the form, watches the
parse progress live while a real Celery worker parses it, then reads the charts and the icicle, in light and
dark mode.

Real processes: daphne and a Celery worker against the test database and S3 server, with a queue and a
channel-layer prefix of their own (``profile_worker_settings``), so the shared Redis never mixes this run
with another. The worker starts only after the page shows the waiting profile, so the page is sure to
see the parse happen live rather than find it done.
"""

import os
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from django.conf import settings
from django.db import connection, connections
from playwright.sync_api import expect

from analysis.models import Profile
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGE_TIMEOUT_MS,
    Server,
    database_url,
    free_port,
    wait_until_healthy,
)
from tests.browser.test_sign_in_and_tokens import THEME, sign_in
from tests.builders import committed

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"
PARSE_TIMEOUT_MS = 60_000
# Every state and progress the page is shown, kept across the reload that follows "ready".
RECORDER = """
(() => {
  const seen = () => JSON.parse(sessionStorage.getItem("profile-seen") || "[]");
  const note = (when) => {
    const state = document.querySelector("[data-profile-live] [data-profile-state]");
    const bar = document.querySelector("[data-profile-live] [data-profile-progress]");
    if (!state || !bar) return;
    const list = seen();
    list.push(when + state.textContent.trim() + " " + bar.value);
    sessionStorage.setItem("profile-seen", JSON.stringify(list));
  };
  const watch = { subtree: true, childList: true, characterData: true, attributeFilter: ["value"] };
  document.addEventListener("DOMContentLoaded", () => {
    note("loaded: ");
    new MutationObserver(() => note("")).observe(document.body, watch);
  });
})();
"""
RELOADED = "loaded: Ready 100"  # what the recorder notes when the page has reloaded itself, parsed
TEXT = "getComputedStyle(document.documentElement).getPropertyValue('--text').trim()"
TICKS = "Chart.getChart(document.getElementById('chart-hotspots')).options.scales.y.ticks.color"
ICICLE_TEXT = "getComputedStyle(document.querySelector('svg.icicle text')).fill"
BODY = "[getComputedStyle(document.body).color, getComputedStyle(document.body).backgroundColor]"


@pytest.fixture(scope="module")
def isolated_env(world, s3_server):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.analysis.profile_worker_settings",
        "RUNYARD_TEST_ISOLATION": f"profiles-browser-{uuid4().hex[:8]}",
        "DATABASE_URL": database_url(connection.settings_dict),
        "RUNYARD_HOME": str(settings.RUNYARD_HOME),
        **s3_server.environment(),
    }


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR, process_group=0
        )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server(isolated_env, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("profiles-daphne") / "daphne.log"
    env = {**isolated_env, "RUNYARD_PUBLIC_URL": f"http://localhost:{port}"}
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"]
    process = start(command, env, log)
    try:
        wait_until_healthy(process, port, log)
        yield Server(port=port)
    finally:
        stop(process)


@pytest.fixture
def worker(isolated_env, tmp_path):
    """Starts a Celery worker on this run's queue when called; stopped after the test."""
    started: list[subprocess.Popen] = []
    log = tmp_path / "worker.log"

    def run() -> None:
        queue = isolated_env["RUNYARD_TEST_ISOLATION"]
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queue]
        command += [
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=info",
            "--without-gossip",
            "--without-mingle",
        ]
        started.append(start(command, isolated_env, log))

    yield run
    for process in started:
        stop(process)


@pytest.fixture(scope="module")
def chromium():
    """Chromium for this module (see tests/browser/conftest.py's ``browser`` for the async-unsafe switch)."""
    if not CHROMIUM.exists():
        pytest.skip("install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        connections.close_all()
        browser.close()


@pytest.fixture
def page(chromium, server):
    context = chromium.new_context(color_scheme="light", viewport={"width": 1200, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def uploaded(world):
    """Codes of the profiles the test made through the browser; deleted (tables and files) afterwards."""
    from analysis.services import profiles as profile_services

    codes: list[str] = []
    yield codes

    def remove():
        for profile in Profile.objects.filter(code__in=codes):
            profile_services.delete_profile(profile, actor=None)

    committed(world.tenant, remove)


def test_alice_uploads_watches_the_parse_live_and_reads_the_charts_in_both_themes(
    page, server, worker, uploaded, world
):
    sign_in(page, server, "alice@example.com")
    page.add_init_script(RECORDER)
    page.get_by_role("link", name="Profiles", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Profiles")
    name = f"Browser before {uuid4().hex[:6]}"
    page.get_by_label("Profile file").set_input_files(str(DEMO / "before.callgrind"))
    page.get_by_label("Name").fill(name)
    page.get_by_label("Disassembly (optional)").set_input_files(str(DEMO / "before.objdump"))
    page.get_by_test_id("upload").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    uploaded.append(page.url.rstrip("/").rsplit("/", 1)[-1])
    head = page.locator("[data-profile-live]")
    expect(head.locator("[data-profile-state]")).to_have_text("Waiting to be parsed")
    expect(page.locator(".live-status")).to_have_attribute("data-live-status", "live")

    worker()  # the parse runs now, in a real worker; the page follows it over the socket

    expect(page.get_by_test_id("hotspots")).to_be_visible(timeout=PARSE_TIMEOUT_MS)
    # a function, not an expression: Playwright polls an expression with eval, which the page's CSP refuses
    page.wait_for_function(
        f"() => JSON.parse(sessionStorage.getItem('profile-seen') || '[]').includes('{RELOADED}')"
    )
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('profile-seen'))")
    assert seen[0] == "loaded: Waiting to be parsed 0", seen
    assert any(entry.startswith("Parsing") for entry in seen), seen
    assert "Ready 100" in seen, seen  # drawn live, before the page reloaded itself
    reloaded = seen.index(RELOADED)  # the page reloaded itself once ready …
    assert set(seen[reloaded + 1 :]) <= {"Ready 100"}, (
        seen
    )  # … and a catch-up on reconnection changes nothing
    expect(head.locator("[data-profile-state]")).to_have_text("Ready")
    expect(page.locator('[data-hotspot="update_particles"]')).to_be_visible()

    for chart in ("chart-hotspots", "chart-vector"):
        page.wait_for_function(f"() => window.Chart && Chart.getChart(document.getElementById('{chart}'))")
        drawn = page.evaluate(
            f"(() => {{ const c = document.getElementById('{chart}'); const d = c.getContext('2d')"
            ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4)"
            " if (d[i]) n++; return n; })()"
        )
        assert drawn > 1000, f"{chart} has only {drawn} painted pixels"
    icicle = page.get_by_test_id("icicle")
    expect(icicle).to_be_visible()
    assert icicle.locator("rect").count() > 5
    expect(icicle.locator("text", has_text="update_particles")).to_have_count(1)

    shots = Path("/tmp/runyard-shots")  # noqa: S108 - where the README tells people to look
    shots.mkdir(exist_ok=True)
    themes = {}
    for theme in ("light", "dark"):
        if theme == "dark":
            page.locator("#theme-toggle").click()
        assert page.evaluate(THEME) == theme
        text = page.evaluate(TEXT)
        page.wait_for_function(f"() => {TICKS} === {TEXT}")
        colour, background = page.evaluate(BODY)
        assert colour != background
        themes[theme] = (colour, background, page.evaluate(ICICLE_TEXT))
        assert text
        page.screenshot(path=shots / f"profile-{theme}.png", full_page=True)
        for section in ("hotspots", "vector", "flame"):
            page.locator(f"#{section}").screenshot(path=shots / f"profile-{section}-{theme}.png")
    assert themes["light"][0] != themes["dark"][0] and themes["light"][1] != themes["dark"][1]
    assert themes["light"][2] == themes["light"][0] and themes["dark"][2] == themes["dark"][0]

    page.locator('[data-hotspot="update_particles"] a').click()  # the deep dive, still in dark mode
    expect(page.get_by_test_id("function-name")).to_have_text("update_particles")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-mix'))")
    expect(page.get_by_test_id("callers").get_by_role("link", name="main")).to_be_visible()
    page.screenshot(path=shots / "profile-function-dark.png", full_page=True)

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Profiles", exact=True).click()  # a second run, then the diff
    row = page.locator(f'[data-profile-row="{uploaded[0]}"]')
    expect(row.locator("[data-profile-state]")).to_have_text("Ready")
    page.get_by_label("Profile file").set_input_files(str(DEMO / "after.callgrind"))
    page.get_by_label("Name").fill(f"{name} → after")
    page.get_by_test_id("upload").click()
    uploaded.append(page.url.rstrip("/").rsplit("/", 1)[-1])
    expect(page.get_by_test_id("hotspots")).to_be_visible(timeout=PARSE_TIMEOUT_MS)
    page.get_by_label("Earlier run (before)").select_option(uploaded[0])
    page.get_by_role("button", name="Show the diff").click()
    expect(page.get_by_test_id("improvements")).to_contain_text("update_particles")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-diff'))")
    page.screenshot(path=shots / "profile-diff-dark.png", full_page=True)
