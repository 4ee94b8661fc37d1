"""Session-wide world: two tenants and the personas, created once and committed.

alpha (primary): alice owner, bob member, carol viewer. beta (other): mallory member.
operator: staff, no memberships. Each test runs in a transaction that is rolled back.
"""

import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from rest_framework.test import APIClient

from portal.celery import app as celery_app
from tests.builders import PASSWORD, ensure_user, make_token

pytest_plugins = ["tests.slurm_cluster"]
PRIMARY, OTHER = "alpha", "beta"
# This session's name on the shared Redis: its channel-layer prefix and the Celery queue of the servers it
# starts (tests/run_settings.py). One per process, so each pytest-xdist worker has its own.
RUN_ISOLATION = f"test-run-{uuid.uuid4().hex[:8]}"


# Tests that start real processes (a demo, a Celery worker, Slurm, daphne and Chromium) take the longest.
LONG_RUNNING = ("slow", "browser", "slurm")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """On a pytest-xdist worker, the modules with long-running tests come first, each kept in one piece.

    ``--dist loadscope`` hands out whole modules in this order (``--no-loadscope-reorder``), so the longest
    ones start early and the short ones fill the gaps at the end, instead of one worker finishing the demo
    alone. Every worker sorts its identical collection the same way, as xdist requires. A serial run keeps
    pytest's order."""
    if not hasattr(config, "workerinput"):
        return
    long_running = {item.path for item in items if any(item.get_closest_marker(m) for m in LONG_RUNNING)}
    items.sort(key=lambda item: item.path not in long_running)  # stable: the order within stays


@dataclass(frozen=True)
class World:
    tenant: object
    other: object
    alice: object
    bob: object
    carol: object
    mallory: object
    operator: object


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    region: str = "us-east-1"
    access_key_id: str = "testing"
    secret_access_key: str = "testing"

    def environment(self) -> dict[str, str]:
        """What a child process (daphne in the browser tests) needs to reach the same server."""
        return {
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": self.region,
            "S3_ACCESS_KEY_ID": self.access_key_id,
            "S3_SECRET_ACCESS_KEY": self.secret_access_key,
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """moto's standalone S3 server in its own process, spoken to over HTTP; boto3 is never patched.

    Every tenant the tests onboard gets its bucket there (the settings point the S3 backend at it).
    """
    from django.test import override_settings

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = S3Server(endpoint_url=f"http://127.0.0.1:{port}")
    try:
        _wait_for(f"{server.endpoint_url}/moto-api/", process)
        with override_settings(
            STORAGE_BACKEND="s3",
            S3_ENDPOINT_URL=server.endpoint_url,
            S3_REGION=server.region,
            S3_ACCESS_KEY_ID=server.access_key_id,
            S3_SECRET_ACCESS_KEY=server.secret_access_key,
        ):
            yield server
    finally:
        process.terminate()
        process.wait(10)


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer {url} within {timeout}s")


@pytest.fixture(scope="session")
def world(django_db_setup, django_db_blocker, s3_server) -> World:
    from tenants.models import Membership, Role, Tenant
    from tenants.services import onboard_tenant, setup_database

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        assert name.startswith("test_"), f"refusing to build the test world in {name!r}"
        setup_database(verbosity=0)
        tenants = {}
        for slug, owner in ((PRIMARY, "alice@example.com"), (OTHER, "mallory@example.com")):
            tenants[slug] = Tenant.objects.filter(slug=slug).first() or onboard_tenant(
                slug.title(), slug=slug, owner_email=owner, owner_password=PASSWORD
            )
        people = {name: ensure_user(f"{name}@example.com") for name in ("alice", "bob", "carol", "mallory")}
        operator = ensure_user("operator@example.com", is_staff=True, is_superuser=True)
        for name, role in (("bob", Role.MEMBER), ("carol", Role.VIEWER)):
            Membership.objects.get_or_create(
                user=people[name], tenant=tenants[PRIMARY], defaults={"role": role}
            )
        Membership.objects.filter(user=people["mallory"], tenant=tenants[OTHER]).update(role=Role.MEMBER)
        Membership.objects.filter(user=people["alice"], tenant=tenants[PRIMARY]).update(role=Role.OWNER)
    return World(tenant=tenants[PRIMARY], other=tenants[OTHER], operator=operator, **people)


@pytest.fixture(scope="session", autouse=True)
def _cache_of_this_run():
    """Keys of this run only: rate-limit counters and used TOTP codes of an earlier run stay out,
    and the shared Redis (broker, channel layer) is never flushed."""
    from django.test import override_settings

    caches = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
        for alias, config in settings.CACHES.items()
    }
    with override_settings(CACHES=caches):
        yield


@pytest.fixture(scope="session", autouse=True)
def _live_messages_of_this_run():
    """Live messages on a channel-layer prefix of this session: another session's (the other xdist worker's,
    another run's) never reach the sockets of the servers this one started, nor this one's theirs."""
    layer = settings.CHANNEL_LAYERS["default"]
    if "CONFIG" not in layer:  # the in-memory layer is private to this process already
        yield
        return
    config = {**layer["CONFIG"], "prefix": f"{RUN_ISOLATION}:"}
    with override_settings(CHANNEL_LAYERS={"default": {**layer, "CONFIG": config}}):
        yield


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """Requests leave the connection in their tenant's schema; start each test from public."""
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _eager_celery():
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


def host(tenant) -> str:
    return f"{tenant.slug}.localhost"


@pytest.fixture
def client_for(db, world):
    """A browser-like client signed in as ``user`` on ``tenant``'s host (anonymous if user is None)."""

    def make(user, tenant=None) -> Client:
        client = Client(HTTP_HOST=host(tenant or world.tenant))
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture
def api_for(db, world):
    """An API client using a fresh bearer token of ``user`` bound to ``tenant``."""

    def make(user, tenant=None, token_tenant=None) -> APIClient:
        tenant = tenant or world.tenant
        key = make_token(user, token_tenant or tenant)
        client = APIClient(HTTP_HOST=host(tenant))
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return make


@pytest.fixture
def session_cookie(db):
    """A ``Cookie`` header value carrying a real session for ``user`` (for websocket tests)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    def make(user) -> str:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    return make


@pytest.fixture
def operator_client(db, world) -> Client:
    """The operator, signed in on the public host (admin and operators' API)."""
    client = Client(HTTP_HOST="localhost")
    client.force_login(world.operator, backend="django.contrib.auth.backends.ModelBackend")
    return client


# Websocket tests: a channel layer of the test alone (its own Redis prefix), so messages of other test
# runs on the shared Redis never arrive; and the test's own connection kept open for consumers.
@pytest.fixture
def private_channel_layer():
    layer = settings.CHANNEL_LAYERS["default"]
    if "CONFIG" not in layer:  # the in-memory layer is private to this process already
        yield
        return
    config = {**layer["CONFIG"], "prefix": f"test-live-{uuid.uuid4().hex[:8]}"}
    with override_settings(CHANNEL_LAYERS={"default": {**layer, "CONFIG": config}}):
        yield


@pytest.fixture
def consumer_connection(monkeypatch):
    """Consumers call ``close_old_connections`` around every message and database call; on this thread
    that is the test's connection, inside the test's transaction, and closing it would end the test.
    Django's test client keeps it open for requests the same way."""
    monkeypatch.setattr(connection, "close_if_unusable_or_obsolete", lambda: None)
