"""A real server and a real browser: daphne serving the committed test world, driven by Chromium.

Nothing here is rolled back: the server is another process and commits what the browser does.
Tests therefore use unique names and never assert global counts.
"""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings
from django.db import connection, connections

from tests.conftest import RUN_ISOLATION

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT = 20.0
PAGE_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Server:
    port: int

    def url(self, slug: str, path: str = "/") -> str:
        """A URL on a tenant host, as the browser sees it (Chromium resolves *.localhost itself)."""
        return f"http://{slug}.localhost:{self.port}{path}"

    def api(self, slug: str) -> httpx.Client:
        """An HTTP client for a tenant host: Python does not resolve *.localhost, so send the Host header."""
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", headers={"Host": f"{slug}.localhost:{self.port}"}
        )


def database_url(settings_dict: dict) -> str:
    """A postgresql:// URL for the database Django is connected to (the test database in tests)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    host = settings_dict.get("HOST") or settings_dict.get("OPTIONS", {}).get("host") or ""
    port = settings_dict.get("PORT") or settings_dict.get("OPTIONS", {}).get("port") or ""
    location = quote(host, safe="") if host.startswith("/") else host  # a Unix socket directory
    if port:
        location = f"{location}:{port}"
    return f"postgresql://{credentials}@{location}/{quote(settings_dict['NAME'], safe='')}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"daphne exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"daphne did not answer /healthz within {SERVER_START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def test_database(django_db_setup):
    """Refuse to go on unless pytest-django has switched Django to the test database.

    pytest-django creates it only when a collected test asks for the database; otherwise the
    ``world`` fixture would write its personas into the real one. Browser tests carry
    ``pytest.mark.django_db`` for that reason.
    """
    name, test_name = connection.settings_dict["NAME"], connection.settings_dict.get("TEST", {}).get("NAME")
    if name != test_name if test_name else not name.startswith("test_"):
        pytest.fail(f"not connected to a test database ({name!r}); mark browser tests with django_db")


@pytest.fixture(scope="session")
def portal_server(test_database, world, s3_server, tmp_path_factory):
    """daphne serving portal.asgi against the test database and the test S3 server, on this session's
    channel-layer prefix (so the live messages tests send reach its sockets); yields a ``Server``."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.run_settings",  # this session's channel-layer prefix and queue
        "RUNYARD_TEST_ISOLATION": RUN_ISOLATION,
        "DATABASE_URL": database_url(connection.settings_dict),
        "RUNYARD_HOME": str(settings.RUNYARD_HOME),
        "RUNYARD_PUBLIC_URL": f"http://localhost:{port}",
        **s3_server.environment(),
    }
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
        )
    try:
        wait_until_healthy(process, port, log)
        yield Server(port=port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium: required on CI, otherwise its absence skips (before any server starts)."""
    if not CHROMIUM.exists():
        reason = "install Debian's chromium to run browser tests"
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="package")
def browser(chromium_path):
    """Chromium for the tests of this package, closed when they are done.

    Playwright's sync API leaves its event loop registered as running on the main thread. Django
    then refuses plain synchronous database work (SynchronousOnlyOperation), such as pytest-django's
    per-test transaction: nothing here is async, so the check is switched off while the browser is
    open, and package scope confines that to this package. A running loop also makes Django keep
    this thread's connections in a separate store, so they are closed here before the loop stops;
    left open, they would keep the test database from being dropped.
    """
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield chromium
        connections.close_all()
        chromium.close()


@pytest.fixture
def page(chromium_path, portal_server, browser):
    """A fresh page in its own browser context (own cookies and storage), light colour scheme."""
    context = browser.new_context(color_scheme="light", viewport={"width": 1200, "height": 800})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    path = Path("/tmp/runyard-shots")  # noqa: S108 - where the brief and README tell people to look
    path.mkdir(exist_ok=True)
    return path
