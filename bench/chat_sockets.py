"""2,000 chat websockets held by one daphne process on the Redis channel layer, and what they cost an answer.

    python bench/chat_sockets.py [--connections 2000] [--askers 50] [--hold 30] [--baseline 5]

Needs REDIS_URL (the channel layer of the daphne process; nothing else here talks to Redis) and the
``websockets`` client library (the ``dev`` extra). The database is ``runyard_bench_<pid>`` (see
``bench/tenant_onboarding.py``), created, migrated and dropped here; RUNYARD_HOME is a temporary directory
(the secret key daphne shares with this script, and the tenant's bucket), removed at the end.

Setup, in this process (without REDIS_URL, so no Celery message leaves it): one tenant ``bench-chat-<pid>``
holding the demo's before and after profiles (parsed, as ``tests.builders.parse_demo_profiles`` does), and
one member per connection, each with a real database session (the cookie a browser would send). One user per
socket, as 2,000 people with the chat open: a socket joins its *user's* group, so 2,000 sockets of one user
would each receive every answer to any of them, which measures a 2,000-fold fan-out, not holding sockets.

Then ONE ``daphne -b 127.0.0.1 -p <free port> portal.asgi:application`` with REDIS_URL set (channels-redis)
and RUNYARD_CHAT_MESSAGES_PER_MINUTE raised; this process's and daphne's open-file limit is raised to the
hard limit (``resource.setrlimit``). Every socket connects to ``ws://bench-chat-<pid>.localhost:<port>/ws/chat/``
(TCP to 127.0.0.1, Origin of the same host, the session cookie) and waits for ``ready``. Each ask sends
``{"type": "ask", "conversation": null, "text": QUESTION}`` and times the first ``delta`` and the ``done``;
the answer must contain a figure and no "could not look up".

1. baseline: one socket, ``--baseline`` asks one after the other (after one warm-up ask);
2. ``--askers`` sockets only, all asking at once (what concurrent asks cost without the crowd);
3. the other sockets opened (``--open-at-once`` connecting at a time) until ``--connections`` are held, all
   ``ready``; held ``--hold`` seconds (daphne pings them); the same askers ask again, at once;
4. every socket sends ``{"type": "open", "conversation": null}`` and must get its ``conversation`` back.

``--redis-read-timeout`` runs daphne with a settings module, written into the temporary directory, that sets
only the channel layer's Redis ``socket_timeout`` (redis-py 8 reads with 5 s, the length of channels_redis's
blocking pop; see bench/README.md). Other settings pass through the environment (e.g. ``DB_CONN_MAX_AGE``).

It prints connections held, failures (connect/ready, closed while held, ask errors, no answer to ``open``;
any failure exits 1), daphne's RSS (VmRSS) idle, after each phase and at the end, and the medians and p95
of first delta and done per phase, with the ratio phase 3 / baseline (and phase 3 / phase 2: what the
held sockets add to the same concurrent asks). The analyst streams a composed answer in 24-character pieces
10 ms apart (``chat.engine``), so "done" includes that pacing. Client and server share this machine's CPUs.
daphne is stopped, its channel-layer groups deleted from Redis, and the database dropped at the end, also on
an error or Ctrl-C.
"""

import argparse
import asyncio
import json
import math
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from tenant_onboarding import throwaway_database  # noqa: E402

QUESTION = "What are the three hottest functions in my latest run, with instruction counts and cycle share?"
SLUG = f"bench-chat-{os.getpid()}"
TIMEOUT = 120.0  # seconds for any one step of one socket (connect, ready, an answer)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2000, help="websockets held at once")
    parser.add_argument("--askers", type=int, default=50, help="of them, how many ask at once")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds to hold them before asking")
    parser.add_argument("--baseline", type=int, default=5, help="asks on the lone socket (after a warm-up)")
    parser.add_argument("--open-at-once", type=int, default=25, help="connections being opened at a time")
    parser.add_argument(
        "--redis-read-timeout",
        type=float,
        metavar="SECONDS",
        help="run daphne with the channel layer's Redis read timeout set to this (bench-only settings "
        "module); default: the project's settings as they are",
    )
    args = parser.parse_args()
    if not 1 <= args.askers <= args.connections - 1:
        parser.error("--askers must be between 1 and --connections - 1")
    if not os.environ.get("REDIS_URL"):
        parser.error("REDIS_URL must be set: the bench measures daphne on the Redis channel layer")
    return args


# --- setup: tenant, data, one member and session per socket ------------------------------------


def setup(users: int) -> tuple[str, list[str]]:
    """The tenant's host and one ``Cookie`` header per user."""
    from django.conf import settings
    from django_tenants.utils import get_tenant_domain_model, tenant_context

    from tenants.models import Membership
    from tenants.services import setup_database
    from tests.builders import make_tenant, parse_demo_profiles

    setup_database(verbosity=0)
    tenant = make_tenant(SLUG, owner_email=f"owner@{SLUG}.invalid")
    with tenant_context(tenant):
        owner = Membership.objects.get(tenant=tenant).user
        parse_demo_profiles("Bench", actor=owner)
    keys = sessions(members(tenant, users))
    domain = get_tenant_domain_model().objects.get(tenant=tenant, is_primary=True).domain
    return domain, [f"{settings.SESSION_COOKIE_NAME}={k}" for k in keys]


def members(tenant, count: int) -> list:
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from tenants.models import Membership, Role, User

    password = make_password(None)  # unusable; the session is what signs them in
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(email=f"user{n:05d}@{SLUG}.invalid", password=password) for n in range(count)
        )
        Membership.objects.bulk_create(Membership(user=u, tenant=tenant, role=Role.MEMBER) for u in users)
    return users


def sessions(users: list) -> list[str]:
    """One stored session per user, as ``django.contrib.auth.login`` leaves it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    store, expires = SessionStore(), timezone.now() + timezone.timedelta(days=1)
    rows = [
        Session(
            session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
            session_data=store.encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for user in users
    ]
    Session.objects.bulk_create(rows)
    return [row.session_key for row in rows]


# --- daphne --------------------------------------------------------------------------------------


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by daphne
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SETTINGS = """from portal.settings import *  # noqa: F403 - the project's settings, but one value

CHANNEL_LAYERS = {{
    "default": {{
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {{"hosts": [{{"address": REDIS_URL, "socket_timeout": {timeout}}}]}},  # noqa: F405
    }}
}}
"""


@contextmanager
def daphne(port: int, redis_url: str, log: Path, read_timeout: float | None):
    env = {**os.environ, "REDIS_URL": redis_url, "RUNYARD_CHAT_MESSAGES_PER_MINUTE": "100000"}
    if read_timeout is not None:
        (log.parent / "bench_chat_settings.py").write_text(SETTINGS.format(timeout=read_timeout))
        env["PYTHONPATH"] = os.pathsep.join([str(log.parent), str(ROOT)])
        env["DJANGO_SETTINGS_MODULE"] = "bench_chat_settings"
    command = [
        str(Path(sys.executable).parent / "daphne"),
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "portal.asgi:application",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"daphne exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("daphne did not listen within 60 s") from None
                time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def forget_groups(redis_url: str, schema: str) -> int:
    """The channel layer's group keys of the bench tenant (they would otherwise live a day in Redis)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{schema}.chat.*"))
    if keys:
        client.delete(*keys)
    return len(keys)


# --- the sockets ---------------------------------------------------------------------------------


@dataclass
class Ask:
    first: float | None = None
    done: float | None = None
    error: str | None = None


@dataclass
class Phase:
    name: str
    asks: list[Ask] = field(default_factory=list)

    def times(self, which: str) -> list[float]:
        return [getattr(a, which) for a in self.asks if getattr(a, which) is not None]

    @property
    def errors(self) -> list[str]:
        return [a.error for a in self.asks if a.error]


class Client:
    def __init__(self, url: str, host: str, cookie: str):
        self.url, self.host, self.cookie = url, host, cookie
        self.ws = None

    async def open(self) -> str | None:
        """None once ``ready`` arrived, else what went wrong."""
        from websockets.asyncio.client import connect

        try:
            self.ws = await connect(
                self.url,
                host="127.0.0.1",
                origin=f"http://{self.host}",
                additional_headers={"Cookie": self.cookie},
                proxy=None,
                ping_interval=None,  # a browser does not ping; daphne pings every socket itself
                open_timeout=TIMEOUT,
            )
            event = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return None if event.get("type") == "ready" else f"first event {event!r}"

    async def ask(self) -> Ask:
        result = Ask()
        started = time.perf_counter()
        try:
            await self.ws.send(json.dumps({"type": "ask", "conversation": None, "text": QUESTION}))
            while True:
                event = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
                if event["type"] == "delta" and result.first is None:
                    result.first = time.perf_counter() - started
                elif event["type"] == "error":
                    result.error = f"error event {event}"
                    return result
                elif event["type"] == "done":
                    result.done = time.perf_counter() - started
                    result.error = wrong_answer(event["message"]["content"])
                    return result
        except Exception as error:
            result.error = f"{type(error).__name__}: {error}"
            return result

    async def still_there(self) -> bool:
        try:
            await self.ws.send(json.dumps({"type": "open", "conversation": None}))
            while True:
                event = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
                if event["type"] == "conversation":
                    return True
        except Exception:
            return False

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def wrong_answer(text: str) -> str | None:
    if not any(c.isdigit() for c in text):
        return f"an answer with no figure: {text[:200]!r}"
    if "could not look up" in text or "can't answer" in text:
        return f"a refusal: {text[:200]!r}"
    return None


async def open_all(clients: list[Client], at_once: int) -> list[str]:
    gate = asyncio.Semaphore(at_once)

    async def one(client):
        async with gate:
            return await client.open()

    return [problem for problem in await asyncio.gather(*(one(c) for c in clients)) if problem]


async def run(args, url: str, host: str, cookies: list[str], pid: int) -> dict:
    clients = [Client(url, host, cookie) for cookie in cookies]
    lone, askers, crowd = clients[0], clients[1 : args.askers + 1], clients[args.askers + 1 :]
    out = {"rss": [("idle", rss_mb(pid))], "failures": {}}

    problem = await lone.open()
    if problem:
        raise SystemExit(f"the lone socket failed: {problem}")
    warm = await lone.ask()
    if warm.error:
        raise SystemExit(f"the warm-up ask failed: {warm.error}")
    baseline = Phase("1 socket, 1 ask at a time")
    for _ in range(args.baseline):
        baseline.asks.append(await lone.ask())
    out["rss"].append(("after the baseline", rss_mb(pid)))

    out["failures"]["askers: connect/ready"] = await open_all(askers, args.open_at_once)
    alone = Phase(f"{len(askers) + 1} sockets, {len(askers)} ask at once")
    alone.asks = list(await asyncio.gather(*(c.ask() for c in askers)))
    out["rss"].append((f"after {len(askers)} asks on {len(askers) + 1} sockets", rss_mb(pid)))

    started = time.perf_counter()
    out["failures"]["the rest: connect/ready"] = await open_all(crowd, args.open_at_once)
    out["opened_in"] = time.perf_counter() - started
    out["rss"].append((f"{len(clients)} sockets ready", rss_mb(pid)))
    await asyncio.sleep(args.hold)
    out["failures"]["closed while held"] = [
        "closed" for c in clients if c.ws is None or c.ws.close_code is not None
    ]
    out["rss"].append((f"after holding {args.hold:.0f} s", rss_mb(pid)))
    crowded = Phase(f"{len(clients)} sockets held, {len(askers)} ask at once")
    crowded.asks = list(await asyncio.gather(*(c.ask() for c in askers)))
    out["rss"].append((f"after {len(askers)} asks among {len(clients)}", rss_mb(pid)))
    alive = await asyncio.gather(*(c.still_there() for c in clients))
    out["failures"]["no answer to open at the end"] = ["silent" for ok in alive if not ok]
    out["held"] = sum(alive)
    out["rss"].append(("after every socket answered open", rss_mb(pid)))
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    out["phases"] = [baseline, alone, crowded]
    return out


# --- the report ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(len(ordered) * share), 1) - 1] if ordered else float("nan")


def report(args, out: dict) -> bool:
    baseline, alone, crowded = out["phases"]
    for phase in out["phases"]:
        for error in phase.errors:
            out["failures"].setdefault(f"ask errors ({phase.name})", []).append(error)
    failures = sum(len(v) for v in out["failures"].values())
    print(
        f"\nconnections held: {out['held']:,} of {args.connections:,} (all ready, held {args.hold:.0f} s, "
        f"answered open at the end); the {args.connections - args.askers - 1:,} beyond the askers opened "
        f"in {out['opened_in']:.1f} s, {args.open_at_once} at a time"
    )
    print(f"failures: {failures}")
    for name, problems in out["failures"].items():
        if problems:
            print(f"  {name}: {len(problems)}, e.g. {problems[0]}")
    print("daphne RSS (VmRSS):")
    for when, mb in out["rss"]:
        print(f"  {when:40} {mb:8.1f} MB")
    print(f"ask latency, seconds (question: {QUESTION!r})")
    print(f"  {'':48} {'first delta p50':>15} {'p95':>6} {'done p50':>9} {'p95':>6}")
    for phase in out["phases"]:
        first, done = phase.times("first"), phase.times("done")
        print(
            f"  {phase.name:48} {statistics.median(first):15.3f} {percentile(first, 0.95):6.3f} "
            f"{statistics.median(done):9.3f} {percentile(done, 0.95):6.3f}  ({len(done)} answers)"
        )
    for which, label in (("first", "first delta"), ("done", "done")):
        base, few, many = (statistics.median(p.times(which)) for p in out["phases"])
        print(
            f"ratio {label}: {args.connections:,} held / 1 socket {many / base:.2f}x; "
            f"{args.connections:,} held / {args.askers + 1} sockets (the same {args.askers} asks) "
            f"{many / few:.2f}x"
        )
    return failures == 0


def main() -> None:
    args = parse_args()
    redis_url = os.environ.pop("REDIS_URL")  # daphne's only: setup sends nothing to a shared Redis
    limit = raise_file_limit()
    if limit < args.connections + 200:
        raise SystemExit(f"the open-file limit is {limit}; {args.connections} sockets need more")
    with tempfile.TemporaryDirectory(prefix="runyard-bench-") as home, throwaway_database():
        os.environ["RUNYARD_HOME"] = home
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        import django

        django.setup()
        from django.db import connections

        started = time.perf_counter()
        host, cookies = setup(args.connections)
        connections.close_all()
        print(
            f"tenant {SLUG}, demo profiles and {len(cookies):,} members with sessions in "
            f"{time.perf_counter() - started:.1f} s; open-file limit {limit:,}"
        )
        port = free_port()
        try:
            log = Path(home) / "daphne.log"
            with daphne(port, redis_url, log, args.redis_read_timeout) as process:
                timeout = args.redis_read_timeout
                print(
                    f"daphne pid {process.pid} on 127.0.0.1:{port}; channel layer's Redis read timeout: "
                    + ("redis-py's default (the project's settings)" if timeout is None else f"{timeout} s")
                )
                url = f"ws://{host}:{port}/ws/chat/"
                out = asyncio.run(run(args, url, f"{host}:{port}", cookies, process.pid))
        finally:
            removed = forget_groups(redis_url, SLUG.replace("-", "_"))
            print(f"removed {removed} channel-layer groups from Redis")
        ok = report(args, out)
        if not ok:
            lines = [line for line in log.read_text().splitlines() if '"WS' not in line]  # no access log
            print("daphne's log, but the access lines, last 60:\n" + "\n".join(lines[-60:]))
    if not ok:
        raise SystemExit("some sockets failed")


if __name__ == "__main__":
    main()
