"""Fault drills: a private Redis and a private PostgreSQL really stopped and restarted under a stream of
requests to a real daphne, with a chat websocket held and a Celery worker; the time each takes to recover.

    python bench/fault_drills.py [--baseline 10] [--down 5] [--settle 5] [--timeout 60]

Nothing here touches the machine's Redis or PostgreSQL. In a temporary directory it starts its own
``redis-server`` (``/usr/bin/redis-server`` on a free port, no persistence) and its own PostgreSQL
(``initdb`` and ``pg_ctl`` from PATH or /usr/local/bin, on a free TCP port; as the ``postgres`` user when
this script runs as root, since PostgreSQL refuses root), migrates a database there, onboards one tenant
``drill`` with its owner (a bearer token and a stored session) and starts ``daphne`` and a Celery worker
(``--without-mingle``) on them, with JSON logs as in production. Every child and the directory are removed
at the end, also on an error or Ctrl-C.

A client thread asks, one after the other, ``GET /api/v1/worksets`` (token) and ``GET /worksets/``
(session) and keeps each answer's status (or the transport error) and latency. A second thread holds a chat
websocket (``/ws/chat/``); when it is closed it reconnects every 0.25 s, as the page's script does (with
backoff there), until the socket says ``ready`` again.

1. baseline: ``--baseline`` seconds with everything up;
2. Redis: ``redis-server`` stopped (SIGTERM, a clean shutdown) and, ``--down`` seconds later, started again
   on the same port; measured from the restart: the chat socket ``ready`` again, ``/readyz`` 200 again, and
   the worker answering ``tenants.ping_task`` again (a round trip through the broker and the result backend);
3. ``--settle`` seconds with everything up;
4. PostgreSQL: ``pg_ctl stop -m fast`` and, ``--down`` seconds later, ``pg_ctl start``; measured from the
   restart: the first 200 of the API and of the page, and ``/readyz`` 200 again.

It prints, per phase, the requests made, their statuses (200, 503, other 5xx, transport errors), p50 and p95
latency and the p50 ratio to the baseline's; then the recovery times. Exit 1 when a request answered a status
other than 200 or 503, failed in transport, or something did not recover within ``--timeout`` seconds.
"""

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SLUG = "drill"
REDIS_SERVER = "/usr/bin/redis-server"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of requests with all up")
    parser.add_argument("--down", type=float, default=5.0, help="seconds each server stays stopped")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between the two drills")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed to recover")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, what: str, timeout: float) -> float:
    """Poll ``condition`` every 50 ms; the seconds it took, or raise when ``timeout`` passes."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


# --- the servers ---------------------------------------------------------------------------------------


class RedisServer:
    def __init__(self, home: Path):
        self.home, self.port, self.process = home / "redis", free_port(), None
        self.home.mkdir()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.home)]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        with (self.home / "redis.log").open("a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.answers, "redis-server answering", 10)

    def answers(self) -> bool:
        with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
        return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class PostgresServer:
    def __init__(self, home: Path):
        self.data, self.port = home / "postgres", free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.bin = Path(shutil.which("pg_ctl") or "/usr/local/bin/pg_ctl").parent

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *command: str) -> None:
        subprocess.run([*self.as_postgres, *command], check=True, capture_output=True, text=True)

    def initialise(self) -> None:
        self.data.mkdir(mode=0o700)
        if self.as_postgres:
            shutil.chown(self.data, "postgres", "postgres")
        self.run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        log = str(self.data / "server.log")
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


# --- the portal: data, daphne, a worker ---------------------------------------------------------------


def setup_portal() -> tuple[str, str]:
    """Migrate, onboard the drill tenant; its owner's bearer token and session cookie."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from tenants.models import User
    from tenants.services import create_api_token, onboard_tenant, setup_database

    setup_database(verbosity=0)
    tenant = onboard_tenant("Drill", slug=SLUG, owner_email="owner@drill.invalid")
    owner = User.objects.get(email="owner@drill.invalid")
    _, token = create_api_token(user=owner, tenant=tenant, name="drill")
    session = SessionStore()
    session[SESSION_KEY] = str(owner.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    session.create()
    return token, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def child(command: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "LOG_FORMAT": "json"}
    with log.open("a") as out:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )


def stop_child(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- clients -------------------------------------------------------------------------------------------


@dataclass
class Answer:
    phase: str
    status: str  # "<path>:<status code or transport error>"
    seconds: float
    started: float  # time.monotonic() when it was sent


class Background:
    """``_run`` on a thread of its own while the ``with`` block lasts; ``_stop`` tells it to end."""

    join_seconds = 30

    def _prepare_thread(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(self.join_seconds)

    def _run(self):
        raise NotImplementedError


@dataclass
class RequestLoop(Background):
    """API list and page, one after the other, for as long as it runs; every answer kept."""

    port: int
    token: str
    cookie: str
    phase: str = "baseline"
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._prepare_thread()

    def _run(self):
        import httpx

        host = {"Host": f"{SLUG}.localhost:{self.port}"}
        origin = f"http://127.0.0.1:{self.port}"
        with (
            httpx.Client(base_url=origin, headers={**host, "Authorization": f"Bearer {self.token}"}) as api,
            httpx.Client(base_url=origin, headers={**host, "Cookie": self.cookie}) as page,
        ):
            while not self._stop.is_set():
                for client, path in ((api, "/api/v1/worksets"), (page, "/worksets/")):
                    started = time.monotonic()
                    try:
                        status = client.get(path, timeout=10).status_code
                    except httpx.HTTPError as error:
                        status = type(error).__name__
                    # counted in the phase it ended in: one sent just before a stop belongs to the drill
                    self.answers.append(
                        Answer(self.phase, f"{path}:{status}", time.monotonic() - started, started)
                    )

    def ok_since(self, path: str, since: float) -> bool:
        """A request to ``path`` that started after ``since`` answered 200."""
        return any(
            a.started > since and a.status.startswith(path) and a.status.endswith(":200")
            for a in self.answers[-20:]
        )


class ChatSocket(Background):
    """One chat websocket held open; when closed, it reconnects every 0.25 s until ``ready`` again."""

    join_seconds = 15

    def __init__(self, port: int, cookie: str):
        self.port, self.cookie = port, cookie
        self.ready = threading.Event()
        self.closed_at: float | None = None
        self._prepare_thread()

    def _run(self):
        while not self._stop.is_set():
            with suppress(Exception):  # refused or dropped: the page tries again
                self._hold()
            if self.ready.is_set() or self.closed_at is None:
                self.closed_at = time.monotonic()
            self.ready.clear()
            self._stop.wait(0.25)

    def _hold(self):
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        host = f"{SLUG}.localhost:{self.port}"
        with connect(
            f"ws://{host}/ws/chat/",
            sock=sock,
            origin=f"http://{host}",
            additional_headers={"Cookie": self.cookie},
        ) as ws:
            if json.loads(ws.recv(timeout=10))["type"] != "ready":
                return
            self.ready.set()
            while not self._stop.is_set():
                with suppress(TimeoutError):
                    ws.recv(timeout=0.5)
            raise ConnectionClosed(None, None)


def readyz_ok(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def worker_answers() -> bool:
    """A ping_task round trip through the broker, the worker and the result backend, within 2 s."""
    from django_tenants.utils import schema_context

    from tenants.tasks import ping_task

    try:
        with schema_context(SLUG):
            return ping_task.apply_async(retry=False).get(timeout=2)["schema"] == SLUG
    except Exception:  # noqa: BLE001 - any failure: not yet
        return False


# --- report --------------------------------------------------------------------------------------------


def summary(loop: RequestLoop, phase: str, baseline_p50: float | None) -> tuple[str, float, int]:
    answers = [a for a in loop.answers if a.phase == phase]
    statuses = [a.status.split(":", 1)[1] for a in answers]
    ok, busy = statuses.count("200"), statuses.count("503")
    other_5xx = sum(1 for s in statuses if s.isdigit() and s.startswith("5") and s != "503")
    transport = sum(1 for s in statuses if not s.isdigit())
    unusual = sorted({a.status for a in answers if a.status.split(":", 1)[1] not in ("200", "503")})
    other = len(statuses) - ok - busy - other_5xx - transport
    times = sorted(a.seconds * 1000 for a in answers) or [0.0]
    p50, p95 = statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]
    ratio = f"{p50 / baseline_p50:.2f}x" if baseline_p50 else "1.00x"
    line = (
        f"{phase:<10} {len(answers):>6} {ok:>6} {busy:>5} {other_5xx:>6} {transport:>9} {other:>6}"
        f" {p50:>8.1f} {p95:>8.1f} {ratio:>8}" + (f"  ({', '.join(unusual)})" if unusual else "")
    )
    return line, p50, other_5xx + transport + other


def main() -> int:
    args = parse_args()
    failures = 0
    with ExitStack() as stack:
        home = Path(tempfile.mkdtemp(prefix="runyard-drill-"))
        home.chmod(0o755)  # the postgres user traverses it
        stack.callback(shutil.rmtree, home, ignore_errors=True)
        redis, postgres = RedisServer(home), PostgresServer(home)
        postgres.initialise()
        postgres.start()
        stack.callback(postgres.stop)
        redis.start()
        stack.callback(redis.stop)
        subprocess.run(
            ["psql", postgres.admin_url, "-qc", "CREATE DATABASE runyard_drill"],
            check=True,
            capture_output=True,
        )
        port = free_port()
        os.environ.update(
            DATABASE_URL=postgres.admin_url.rsplit("/", 1)[0] + "/runyard_drill",
            REDIS_URL=redis.url,
            RUNYARD_HOME=str(home / "portal"),
            RUNYARD_PUBLIC_URL=f"http://localhost:{port}",
            DJANGO_SETTINGS_MODULE="portal.settings",
            STORAGE_BACKEND="local",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",  # the owner's invitation
        )
        for name in ("S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
            os.environ.pop(name, None)
        print(f"servers: redis-server :{redis.port}, PostgreSQL :{postgres.port}; migrating…", flush=True)
        token, cookie = setup_portal()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
        from django.db import connections

        connections.close_all()

        daphne = child(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"],
            home / "daphne.log",
        )
        stack.callback(stop_child, daphne)
        worker = child(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--without-mingle", "--without-gossip"]
            + ["--concurrency=1", "--loglevel=info"],
            home / "worker.log",
        )
        stack.callback(stop_child, worker)
        wait_until(lambda: readyz_ok(port), "daphne ready", args.timeout)
        wait_until(worker_answers, "the worker answering", args.timeout)

        recovery: dict[str, float] = {}
        loop = stack.enter_context(RequestLoop(port, token, cookie))
        chat = stack.enter_context(ChatSocket(port, cookie))
        chat.ready.wait(args.timeout)
        time.sleep(args.baseline)

        loop.phase = "redis"
        stopped = time.monotonic()
        redis.stop()
        recovery["redis: chat socket closed (after the stop)"] = wait_until(
            lambda: not chat.ready.is_set(), "the chat socket closing", args.timeout
        )
        time.sleep(max(0.0, args.down - (time.monotonic() - stopped)))
        redis.start()
        restarted = time.monotonic()
        recovery["redis: stopped for"] = restarted - stopped
        for what, condition in (
            ("redis: chat socket ready again", chat.ready.is_set),
            ("redis: /readyz 200 again", lambda: readyz_ok(port)),
            ("redis: worker answering a ping again", worker_answers),
        ):
            wait_until(condition, what, args.timeout)
            recovery[what] = time.monotonic() - restarted

        loop.phase = "settle"
        time.sleep(args.settle)

        loop.phase = "postgres"
        stopped = time.monotonic()
        postgres.stop()
        time.sleep(max(0.0, args.down - (time.monotonic() - stopped)))
        postgres.start()
        restarted = time.monotonic()
        recovery["postgres: stopped for"] = restarted - stopped
        for what, path in (("postgres: API 200 again", "/api/"), ("postgres: page 200 again", "/worksets/")):
            wait_until(lambda path=path: loop.ok_since(path, restarted), what, args.timeout)
            recovery[what] = time.monotonic() - restarted
        wait_until(lambda: readyz_ok(port), "postgres: /readyz 200 again", args.timeout)
        recovery["postgres: /readyz 200 again"] = time.monotonic() - restarted
        time.sleep(2)
        loop.phase = "end"
        time.sleep(1)

        print(
            f"\n{'phase':<10} {'asked':>6} {'200':>6} {'503':>5} {'5xx':>6} {'transport':>9} {'other':>6}"
            f" {'p50 ms':>8} {'p95 ms':>8} {'p50/base':>8}"
        )
        baseline_p50 = None
        for phase in ("baseline", "redis", "settle", "postgres", "end"):
            line, p50, bad = summary(loop, phase, baseline_p50)
            baseline_p50 = baseline_p50 or p50
            failures += bad
            print(line)
        print(
            "\nrecovery, in seconds after the server was started again ('stopped for': from stop to start):"
        )
        for what, seconds in recovery.items():
            print(f"  {what:<42} {seconds:6.2f} s")
        if failures:  # the temporary directory goes: keep the servers' logs for a look
            kept = Path(tempfile.mkdtemp(prefix="runyard-drill-logs-"))
            for log in (home / "daphne.log", home / "worker.log", postgres.data / "server.log"):
                shutil.copy(log, kept)
            print(f"logs kept in {kept}")
    print(f"\nrequests that failed otherwise than 200/503: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
