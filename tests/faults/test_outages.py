"""Redis and PostgreSQL going away and coming back under a real daphne and a real Celery worker with beat.

Both reach Redis and PostgreSQL through a ``FaultProxy`` (tests/faults/proxy.py): ``down()`` cuts every open
connection and refuses new ones, as a restart does, ``up()`` lets them in again. The test process itself
talks to the real servers, so it can watch what was stored. Nothing here is rolled back (the servers are
other processes): fixtures commit what they need and remove it afterwards. bench/fault_drills.py restarts
real redis-server and PostgreSQL processes and measures the time to recover.
"""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from jobs.models import State, Workset
from tenants import demo_data
from tenants.models import AssistantSettings, Bucket, UsageRecord
from tenants.storage import storage_for
from tests.browser.conftest import database_url, free_port
from tests.builders import PASSWORD, committed, make_token, run_spec
from tests.conftest import RUN_ISOLATION
from tests.faults.gated_model import GatedModel
from tests.faults.proxy import FaultProxy
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
WAIT_SECONDS = 60  # the longest any awaited condition may take (a loaded CI machine boots a worker slowly)
ISOLATION = f"{RUN_ISOLATION}-outages"  # this module's Celery queue and channel prefix
MODEL_KEY = "sk-outage-test"


# --- the proxies and the processes behind them ---


def redis_address() -> tuple[int, str]:
    if not settings.REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is not set on CI: the outage tests need Redis")
        pytest.skip("the outage tests need Redis (REDIS_URL)")
    url = urlsplit(settings.REDIS_URL)
    return url.port or 6379, url.hostname or "127.0.0.1"


@pytest.fixture(scope="module")
def redis_proxy():
    """daphne's way to Redis."""
    with FaultProxy(*redis_address()) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def worker_redis_proxy():
    """The worker's way to Redis, of its own: it goes down only when a test says so (a worker that lost Redis
    waits 2, 4, 6… s between reconnections, so an outage it did not need would slow the next test)."""
    with FaultProxy(*redis_address()) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def postgres_proxy(django_db_setup):
    """daphne's way to PostgreSQL (the test database, set up by now)."""
    database = connection.settings_dict
    with FaultProxy(int(database.get("PORT") or 5432), database.get("HOST") or "127.0.0.1") as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def _all_up_afterwards(redis_proxy, worker_redis_proxy, postgres_proxy):
    yield
    for proxy in (redis_proxy, worker_redis_proxy, postgres_proxy):
        proxy.up()


def through(proxy: FaultProxy, url: str) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return parts._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}").geturl()


@pytest.fixture(scope="module")
def environment(postgres_proxy, s3_server, world):
    """What daphne and the worker share: PostgreSQL through its proxy, this module's queue."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.outage_settings",
        "RUNYARD_TEST_ISOLATION": ISOLATION,
        "DATABASE_URL": through(postgres_proxy, database_url(connection.settings_dict)),
        "SECRET_KEY": settings.SECRET_KEY,  # sessions made here are valid there
        "CHAT_PROVIDER_KEY_ALPHA": MODEL_KEY,
        "LOG_FORMAT": "json",  # production's; the console's tracebacks take seconds to draw
        **s3_server.environment(),
    }


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR, process_group=0
        )


def stop(process: subprocess.Popen) -> None:
    """Killed with its process group: it holds nothing that needs a clean shutdown (each run of a workset
    lives in a group of its own, and they have all finished)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="module")
def worker_process(environment, worker_redis_proxy, tmp_path_factory):
    """A Celery worker with beat (dispatch and poll every second) on this module's queue, started with the
    module (it boots while the first tests run); yields (process, log)."""
    home = tmp_path_factory.mktemp("worker-home")
    log = home / "worker.log"
    env = {
        **environment,
        "RUNYARD_HOME": str(home),
        "RUNYARD_DISPATCH_SECONDS": "1",
        "RUNYARD_POLL_SECONDS": "1",
        "REDIS_URL": through(worker_redis_proxy, settings.REDIS_URL),
    }
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-B", "--concurrency=2"]
    command += [
        "--without-mingle",
        "--without-gossip",
        "-s",
        str(home / "celerybeat-schedule"),
        "--loglevel=info",
    ]
    process = start(command, env, log)
    try:
        yield process, log
    finally:
        stop(process)


@pytest.fixture
def worker(worker_process) -> Path:
    """The worker, once it is ready; yields its log."""
    process, log = worker_process
    wait_for(lambda: process.poll() is None and "ready." in log.read_text(), "the worker ready", log)
    return log


@pytest.fixture(scope="module")
def portal(environment, redis_proxy, worker_process, tmp_path_factory):
    """daphne on a free port; yields its origin (``http://127.0.0.1:<port>``)."""
    port = free_port()
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    env = {**environment, "RUNYARD_HOME": str(settings.RUNYARD_HOME)}
    env["REDIS_URL"] = through(redis_proxy, settings.REDIS_URL)
    env["RUNYARD_PUBLIC_URL"] = f"http://localhost:{port}"
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"]
    process = start(command, env, log)
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{origin}/healthz"), "daphne answering /healthz", log)
        yield origin
    finally:
        stop(process)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


# --- clients of the portal ---


def tenant_client(origin: str, slug: str, **headers) -> httpx.Client:
    port = urlsplit(origin).port
    return httpx.Client(base_url=origin, headers={"Host": f"{slug}.localhost:{port}", **headers}, timeout=10)


@pytest.fixture(scope="module")
def people(world, django_db_blocker):
    """Committed bearer tokens for alice and mallory, and a session cookie for alice."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    with django_db_blocker.unblock():
        tokens = {
            "alice": make_token(world.alice, world.tenant, name="outages"),
            "mallory": make_token(world.mallory, world.other, name="outages"),
        }
        session = SessionStore()
        session[SESSION_KEY] = str(world.alice.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = world.alice.get_session_auth_hash()
        session.create()
    return {**tokens, "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"}


@pytest.fixture
def alice(portal, people):
    with tenant_client(portal, "alpha", Authorization=f"Bearer {people['alice']}") as client:
        yield client


def chat_socket(origin: str, cookie: str):
    """A websocket to /ws/chat/ on alpha's host, as a signed-in page opens it."""
    port = urlsplit(origin).port
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return connect(
        f"ws://alpha.localhost:{port}/ws/chat/",
        sock=sock,
        origin=f"http://alpha.localhost:{port}",
        additional_headers={"Cookie": cookie},
        open_timeout=10,
        legacy=True,  # closed by the caller, not a with block
    )


def joined(origin: str, cookie: str):
    """A chat socket that said ``ready``, or None when it was refused or closed before (what the page's
    script answers with "Live updates: reconnecting…" and another try)."""
    try:
        socket = chat_socket(origin, cookie)
    except (InvalidStatus, ConnectionClosed, OSError):
        return None
    try:
        if json.loads(socket.recv(timeout=10))["type"] == "ready":
            return socket
    except (ConnectionClosed, TimeoutError):
        pass
    socket.close()
    return None


def events_until(socket, kind: str) -> list[dict]:
    events = []
    while not events or events[-1]["type"] != kind:
        events.append(json.loads(socket.recv(timeout=WAIT_SECONDS)))
    return events


def closed(socket) -> bool:
    """True once the server closed the socket (messages still in flight are read and dropped)."""
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while (left := deadline - time.monotonic()) > 0:
            socket.recv(timeout=left)
    except ConnectionClosed:
        return True
    except TimeoutError:
        pass
    return False


# --- Redis ---


@pytest.fixture
def model(world):
    """alpha's assistant is a model that stops half-way through its answer until ``gate`` is set."""
    server = GatedModel(before=["Half of the answer, ", "streamed before Redis went away; "])
    server.after = ["the other half, ", "written while it was gone, ", "and stored whole."]
    with server:
        committed(
            None,
            lambda: AssistantSettings.objects.create(
                tenant=world.tenant,
                provider="openai",
                base_url=f"{server.url}/v1",
                model="gpt-test",
                timeout=30,
            ),
        )
        try:
            yield server
        finally:
            server.gate.set()
            committed(None, lambda: AssistantSettings.objects.filter(tenant=world.tenant).delete())


def test_chat_answers_through_a_redis_restart_and_the_page_reconnects_to_the_whole_answer(
    portal, redis_proxy, people, alice, model, world
):
    socket = joined(portal, people["cookie"])
    assert socket is not None
    socket.send(json.dumps({"type": "ask", "text": "Is anything stuck in the queue?"}))
    code = events_until(socket, "message")[-1]["conversation"]
    wait_for(model.waiting.is_set, "the model half-way through its answer")

    redis_proxy.down()
    assert closed(socket)  # the page's script says "reconnecting…" and tries again
    assert joined(portal, people["cookie"]) is None  # in vain while Redis is away

    # HTTP keeps serving meanwhile: pages, the API (its rate limit cannot count, so it lets calls through)
    with tenant_client(portal, "alpha", Cookie=people["cookie"]) as browser:
        assert browser.get("/chat/").status_code == 200
    with tenant_client(portal, "alpha") as visitor:  # sign-in's limiter cannot count either: it lets bob in
        visitor.get("/accounts/login/")
        form = {
            "login": "bob@example.com",
            "password": PASSWORD,
            "csrfmiddlewaretoken": visitor.cookies["csrftoken"],
        }
        signed_in = visitor.post("/accounts/login/", data=form)
    assert signed_in.status_code == 302 and settings.SESSION_COOKIE_NAME in signed_in.cookies
    assert alice.get("/api/v1/worksets").status_code == 200
    with tenant_client(portal, "beta", Authorization=f"Bearer {people['mallory']}") as mallory:
        assert mallory.get(f"/api/v1/chat/conversations/{code}").status_code == 404
    ready = httpx.get(f"{portal}/readyz", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] and not ready.json()["checks"]["channel_layer"]["ok"]

    model.gate.set()  # the rest of the answer arrives while its live events cannot be sent

    def reply() -> dict | None:
        messages = alice.get(f"/api/v1/chat/conversations/{code}").json()["messages"]
        return messages[-1] if messages[-1]["state"] != "streaming" else None

    stored = wait_for(reply, "the reply stored")
    assert (stored["role"], stored["state"], stored["content"]) == ("assistant", "done", model.text)

    redis_proxy.up()
    socket = wait_for(lambda: joined(portal, people["cookie"]), "the page's socket joined again")
    socket.send(json.dumps({"type": "open", "conversation": code}))
    opened = events_until(socket, "conversation")[-1]
    socket.close()
    assert [m["content"] for m in opened["messages"]] == ["Is anything stuck in the queue?", model.text]
    checks = httpx.get(f"{portal}/readyz", timeout=10).json()["checks"]
    assert checks["channel_layer"]["ok"] and checks["broker"]["ok"]


@pytest.fixture
def dispatch_world(world):
    """A local cluster and the demo's FASTQ pair of one sample in alpha's bucket (committed), removed
    afterwards with the worksets submitted to it and everything their runs wrote."""
    prefix = f"outage-{uuid.uuid4().hex[:8]}/"
    bucket = Bucket.objects.get(tenant=world.tenant)
    cluster = committed(
        None,
        lambda: Cluster.objects.create(
            name=prefix[:-1],
            backend="local",
            region=bucket.region or "us-east-1",
            usd_per_vcpu_hour="0.05",
            pipelines=["test_help"],  # queued worksets other tests left behind stay off it
        ),
    )
    sample = demo_data.SAMPLES[0]
    keys = [prefix + key for key in demo_data.fastq_keys(sample)]
    storage = storage_for(bucket)
    for key, data in zip(keys, demo_data.fastq_pair(sample), strict=True):
        storage.upload(key, io.BytesIO(data))
    submitted: list[str] = []
    yield run_spec([{"sample_id": sample, "fastq_r1": keys[0], "fastq_r2": keys[1]}], "test_help"), submitted

    def remove():
        with tenant_context(world.tenant):
            Workset.objects.filter(code__in=submitted).delete()
        QueueEntry.objects.filter(workset_code__in=submitted).delete()
        QueueEntry.objects.filter(cluster=cluster).delete()  # anything else placed there after all
        for code in submitted:
            UsageRecord.objects.filter(reference__startswith=f"{code}/").delete()
        SlotCounter.objects.filter(scope=f"cluster:{cluster.pk}").delete()
        cluster.delete()

    committed(None, remove)


def test_worksets_submitted_while_redis_is_down_are_dispatched_once_it_is_back(
    portal, worker, redis_proxy, worker_redis_proxy, alice, dispatch_world, world
):
    spec, submitted = dispatch_world
    redis_proxy.down()
    worker_redis_proxy.down()
    for name in ("Submitted during the outage 1", "Submitted during the outage 2"):
        response = alice.post("/api/v1/worksets", json={"spec": {**spec, "name": name}})
        assert response.status_code == 201, response.text
        submitted.append(response.json()["code"])
    redis_proxy.up()
    worker_redis_proxy.up()

    def states() -> dict[str, str] | None:
        with tenant_context(world.tenant):
            found = dict(Workset.objects.filter(code__in=submitted).values_list("code", "state"))
        return found if set(found.values()) <= {State.COMPLETED, State.DEAD_LETTER} else None

    assert set(wait_for(states, "both worksets finished", worker).values()) == {State.COMPLETED}
    for code in submitted:
        body = alice.get(f"/api/v1/worksets/{code}").json()
        path = [move["to_state"] for move in body["transitions"]]
        assert path == ["draft", "validated", "queued", "dispatched", "running", "completed"], code


# --- PostgreSQL ---


class RequestStream:
    """Requests one after another on a thread (an API list and a page), each answer kept as
    ``(phase, status)``; a request that raised (a hang past the client's timeout) keeps its exception name."""

    def __init__(self, origin: str, token: str, cookie: str):
        self.api = tenant_client(origin, "alpha", Authorization=f"Bearer {token}")
        self.page = tenant_client(origin, "alpha", Cookie=cookie)
        self.phase, self.seen = "before", []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)
        self.api.close()
        self.page.close()

    def _run(self):
        while not self._stop.is_set():
            for client, path in ((self.api, "/api/v1/worksets"), (self.page, "/worksets/")):
                phase = self.phase
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                self.seen.append((phase, status))

    def count(self, phase: str, status) -> int:
        return sum(1 for seen in list(self.seen) if seen == (phase, status))


def test_requests_answer_503_while_postgres_restarts_and_recover_without_restarting_daphne(
    portal, postgres_proxy, people, alice
):
    with RequestStream(portal, people["alice"], people["cookie"]) as stream:
        wait_for(lambda: stream.count("before", 200) >= 4, "answers before the outage")
        stream.phase = "down"
        postgres_proxy.down()
        wait_for(lambda: stream.count("down", 503) >= 4, "503s during the outage")
        api, ready = alice.get("/api/v1/worksets"), httpx.get(f"{portal}/readyz", timeout=10)
        with tenant_client(portal, "alpha", Cookie=people["cookie"]) as browser:
            page = browser.get("/worksets/")
        stream.phase = "up"
        postgres_proxy.up()
        wait_for(lambda: stream.count("up", 200) >= 4, "answers after the outage")

    assert {status for _, status in stream.seen} <= {200, 503}, stream.seen  # no 500, nothing left hanging
    assert (api.status_code, api.json()["error"]["code"], api.headers["Retry-After"]) == (
        503,
        "unavailable",
        "5",
    )
    assert page.status_code == 503 and "Back in a moment" in page.text
    assert ready.status_code == 503 and not ready.json()["checks"]["database"]["ok"]
    assert httpx.get(f"{portal}/readyz", timeout=10).json()["checks"]["database"]["ok"]
