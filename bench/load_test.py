"""Load test: page views, API list calls, uploads and chat questions against daphne with 2 worker processes.

    python bench/load_test.py [--seconds 300] [--users 20] [--baseline-seconds 60] [--workers 2]
                              [--sockets reuseport|shared] [--conn-max-age 0 [60 …]] [--pool SIZE]
                              [--max-connections 60] [--redis-db 13] [--json PATH]

The database is ``runyard_bench_<pid>`` on the server of DATABASE_URL (see ``bench/tenant_onboarding.py``),
created, migrated and dropped here; RUNYARD_HOME is a temporary directory (the secret key daphne shares with
this process, the tenant's local bucket), removed at the end, also on an error, Ctrl-C or SIGTERM.

Setup, in this process and without REDIS_URL (nothing reaches a shared Redis): one tenant ``bench-load-<pid>``
seeded as ``runyard demo`` seeds acme (sample input files, a month of usage and a budget, demo worksets in
every state, the before/after profiles parsed, two weeks of GPU costs), and ``--users`` members, each with a
stored session (the cookie a browser sends) and an API token.

Serving: this process opens the listening sockets on 127.0.0.1 and starts ``--workers`` daphne processes
with ``daphne --fd <fd>`` (no proxy in between): ``--sockets reuseport`` (default) gives each process its own
socket on the same port with SO_REUSEPORT, so the kernel spreads connections over them; ``shared`` gives them
one socket, and whichever process wakes first accepts (unevenly). REDIS_URL points at database ``--redis-db``
of the same Redis server (cache, rate-limit counts and channel layer; the bench tenant's keys are deleted at
the end). Nothing in the scenario queues a Celery task (a small upload and an API ask are answered in the
request), so no worker runs. The rate limits are raised for the run (RUNYARD_RATE_API_TOKEN,
RUNYARD_RATE_UPLOADS, RUNYARD_CHAT_MESSAGES_PER_MINUTE): 20 users asking every few seconds are far above a
person's limits; the limits are still counted on every request, they just never refuse.

The users are ``bench/locustfile.py``, run headless in a child process (Locust patches the standard library
with gevent). Each phase starts Locust, waits until all its users run, then measures:

1. baseline: 1 user, ``--baseline-seconds`` (the latency floor of the same mix), after a 5 s warm-up;
2. load: ``--users`` users for ``--seconds``, once per ``--conn-max-age`` value (DB_CONN_MAX_AGE of the
   daphne processes) and, with ``--pool SIZE``, once with Django's psycopg pool (a settings module written
   into the temporary directory; needs psycopg-pool); each on a fresh pair of daphne processes after a 5 s
   warm-up.

It prints per request type and overall: requests, requests/s, p50/p95/p99/max in ms and errors (any answer
but the expected status, or a chat answer without a figure; any error exits 1), the ratios load/baseline
(p50, p95, throughput), requests served by each daphne process, CPU seconds of each process, the
PostgreSQL connections of the bench database (most at once, and how many were opened: pg_stat_database's
``sessions``), and the machine's load average before and after. The PostgreSQL server is shared: past
``--max-connections`` at once, daphne is killed and the phase counts as failed. ``--json`` writes the figures.
"""

import argparse
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from tenant_onboarding import throwaway_database  # noqa: E402

SLUG = f"bench-load-{os.getpid()}"
WARM_UP_SECONDS = 5
RAISED_LIMITS = {
    "RUNYARD_RATE_API_TOKEN": "1000000/m",
    "RUNYARD_RATE_UPLOADS": "1000000/h",
    "RUNYARD_CHAT_MESSAGES_PER_MINUTE": "1000000",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300, help="length of each load phase")
    parser.add_argument("--users", type=int, default=20, help="Locust users in the load phase")
    parser.add_argument("--baseline-seconds", type=float, default=60, help="length of the 1-user phase")
    parser.add_argument("--workers", type=int, default=2, help="daphne processes on the one port")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        nargs="+",
        default=[int(os.environ.get("DB_CONN_MAX_AGE", "0"))],
        help="DB_CONN_MAX_AGE of daphne; several values run the load phase once per value",
    )
    parser.add_argument(
        "--sockets",
        choices=("reuseport", "shared"),
        default="reuseport",
        help="one SO_REUSEPORT socket per daphne process on one port, or one socket they all accept on",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=60,
        help="stop daphne when the bench database holds more connections at once (the server is shared)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        metavar="SIZE",
        help="also run the load phase with Django's psycopg pool (needs psycopg-pool), SIZE per process",
    )
    parser.add_argument("--redis-db", type=int, default=13, help="database number on REDIS_URL's server")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        parser.error("REDIS_URL must be set: daphne's processes share their cache and channel layer there")
    return args


# --- setup: the tenant, its data, users with sessions and tokens ------------------------------------


def setup(users: int) -> tuple[str, list[dict]]:
    """The tenant's host and one ``{"cookie", "token"}`` per user."""
    from chat_sockets import members, sessions
    from django.conf import settings
    from django.utils import timezone
    from django_tenants.utils import get_tenant_domain_model, schema_context

    from analysis.demo import seed_demo_costs, seed_demo_profiles
    from jobs.demo import seed_demo_worksets
    from tenants.management.commands.demo import tasks_inline
    from tenants.services import setup_database
    from tenants.services.demo import seed_demo_data
    from tests.builders import make_tenant, make_token

    setup_database(verbosity=0)
    tenant = make_tenant(SLUG, owner_email=f"owner@{SLUG}.invalid")
    with tasks_inline():
        seed_demo_data(tenant, actor=None)
        with schema_context(tenant.schema_name):
            seed_demo_worksets(tenant)
            seed_demo_profiles()
            seed_demo_costs(timezone.now().date())
    people = members(tenant, users)
    cookies = [f"{settings.SESSION_COOKIE_NAME}={key}" for key in sessions(people)]
    tokens = [make_token(user, tenant, name="load test") for user in people]
    domain = get_tenant_domain_model().objects.get(tenant=tenant, is_primary=True).domain
    return domain, [{"cookie": c, "token": t} for c, t in zip(cookies, tokens, strict=True)]


# --- daphne: N processes on one listening socket -------------------------------------------------------


@dataclass
class Server:
    port: int
    processes: list[subprocess.Popen]
    logs: list[Path]

    def cpu_seconds(self) -> list[float]:
        return [cpu_seconds(p.pid) for p in self.processes]

    def kill(self) -> None:
        for process in self.processes:
            process.kill()

    def error_lines(self, most: int = 15) -> list[str]:
        """What the processes logged at warning and above (not Django's request lines)."""
        lines = []
        for n, log in enumerate(self.logs):
            found = [
                line
                for line in log.read_text(errors="replace").splitlines()
                if any(word in line for word in ("error", "Error", "warning", "Traceback", "FATAL"))
                and "route=" not in line
            ]
            lines += [f"daphne {n}: {line[:300]}" for line in found[-most:]]
        return lines


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def listening_sockets(workers: int, mode: str) -> list[socket.socket]:
    """``shared``: one socket all processes accept on (whichever process wakes first takes the connection);
    ``reuseport``: one socket per process on the same port with SO_REUSEPORT (the kernel spreads connections
    over them by a hash of the client's address and port)."""
    count = 1 if mode == "shared" else workers
    sockets, port = [], 0
    for _ in range(count):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if mode == "reuseport":
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1024)
        listener.set_inheritable(True)
        port = listener.getsockname()[1]
        sockets.append(listener)
    return sockets


@contextmanager
def daphne_workers(workers: int, mode: str, env: dict, home: Path, tag: str):
    sockets = listening_sockets(workers, mode)
    processes, logs = [], []
    try:
        for n in range(workers):
            fd = sockets[n % len(sockets)].fileno()
            command = [str(Path(sys.executable).parent / "daphne"), "--fd", str(fd)]
            command += ["--access-log", os.devnull, "portal.asgi:application"]  # Django logs every request
            logs.append(home / f"daphne-{tag}-{n}.log")
            with logs[-1].open("w") as out:
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, pass_fds=[fd]
                    )
                )
        server = Server(sockets[0].getsockname()[1], processes, logs)
        wait_until_serving(server)
        yield server
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for listener in sockets:
            listener.close()


def wait_until_serving(server: Server) -> None:
    """Every process must have started: the socket answers as soon as the first one does."""
    deadline = time.monotonic() + 90
    while True:
        for process, log in zip(server.processes, server.logs, strict=True):
            if process.poll() is not None:
                raise SystemExit(f"daphne exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if all("Listening on" in log.read_text() for log in server.logs):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2).read()
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise SystemExit("daphne did not serve within 90 s")
        time.sleep(0.3)


def daphne_env(redis_url: str, conn_max_age: int) -> dict:
    return {
        **os.environ,
        **RAISED_LIMITS,
        "REDIS_URL": redis_url,
        "DB_CONN_MAX_AGE": str(conn_max_age),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "info",  # a line per request: how many each process served
        "PYTHONPATH": str(ROOT),  # this checkout, whatever the virtualenv installed
    }


def requests_served(log: Path) -> int:
    """Django's request log lines (portal.logs.RequestIdMiddleware) in one process's output."""
    return sum(1 for line in log.read_text().splitlines() if "request" in line and "route=" in line)


# --- PostgreSQL connections of the bench database -----------------------------------------------------


class ConnectionWatch:
    """Samples the bench database's connections every 0.5 s over one connection of its own, and counts the
    connections opened meanwhile (pg_stat_database's ``sessions``, PostgreSQL 14+). Past ``limit`` connections
    at once it calls ``too_many`` (which stops daphne): the server is shared, and a setting that piles up
    connections must not take the last of its ``max_connections`` from everybody else."""

    def __init__(self, database: str, limit: int, too_many):
        self.database, self.limit, self.too_many = database, limit, too_many
        self.samples, self.stop, self.exceeded = [], threading.Event(), 0
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _value(self, sql: str) -> int:
        return self.conn.execute(sql, (self.database,)).fetchone()[0]

    def _sessions(self) -> int:
        return self._value("SELECT sessions FROM pg_stat_database WHERE datname = %s")

    def _watch(self) -> None:
        while not self.stop.wait(0.5):
            busy = self._value("SELECT count(*) FROM pg_stat_activity WHERE datname = %s")
            self.samples.append(busy)
            if busy > self.limit and not self.exceeded:
                self.exceeded = busy
                self.too_many()

    def __enter__(self):
        import psycopg
        from tenant_onboarding import server_url, with_database

        self.conn = psycopg.connect(with_database(server_url(), "postgres"), autocommit=True)
        self.opened_before = self._sessions()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        time.sleep(1)  # backends report their connection to the statistics within a second
        self.opened = self._sessions() - self.opened_before
        self.conn.close()


# --- phases -----------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    result: dict
    cpu: dict[str, float] = field(default_factory=dict)
    served: list[int] = field(default_factory=list)
    connections_max: int = 0
    connections_opened: int = 0
    load_before: float = 0.0
    load_after: float = 0.0
    stopped_at_connections: int = 0

    @property
    def seconds(self) -> float:
        return self.result["seconds"]

    def all_times(self) -> list[float]:
        return [t for times in self.result["times"].values() for t in times]

    def errors(self) -> int:
        return sum(len(e) for e in self.result["errors"].values()) + len(self.result["user_exceptions"])


def locust(config: Path, users: int, seconds: float, home: Path) -> tuple[dict, float]:
    """Run the Locust users in a child process; its result and CPU seconds."""
    out = home / f"locust-{secrets.token_hex(4)}.json"
    log = out.with_suffix(".log")
    command = [sys.executable, str(ROOT / "bench" / "locustfile.py"), str(config), str(out)]
    command += ["--users", str(users), "--seconds", str(seconds), "--spawn-rate", str(max(users / 3, 1))]
    started = os.times()
    with log.open("w") as output:
        process = subprocess.run(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=False)
    ended = os.times()
    if process.returncode != 0 or not out.exists():
        raise SystemExit(f"Locust failed ({process.returncode}):\n{log.read_text()[-3000:]}")
    cpu = (ended.children_user - started.children_user) + (ended.children_system - started.children_system)
    return json.loads(out.read_text()), cpu


def run_phase(
    name: str,
    server: Server,
    config: Path,
    users: int,
    seconds: float,
    home: Path,
    db: str,
    max_connections: int,
) -> Phase:
    cpu_before = server.cpu_seconds()
    served_before = [requests_served(log) for log in server.logs]
    load_before = os.getloadavg()[0]
    with ConnectionWatch(db, max_connections, server.kill) as watch:
        result, locust_cpu = locust(config, users, seconds, home)
    phase = Phase(name, result, load_before=load_before, load_after=os.getloadavg()[0])
    phase.stopped_at_connections = watch.exceeded
    phase.cpu = {
        f"daphne {n}": after - before
        for n, (before, after) in enumerate(zip(cpu_before, server.cpu_seconds(), strict=True))
    }
    phase.cpu["locust"] = locust_cpu
    phase.served = [
        requests_served(log) - before for log, before in zip(server.logs, served_before, strict=True)
    ]
    phase.connections_max = max(watch.samples, default=0)
    phase.connections_opened = watch.opened
    return phase


def warm_up(config: Path, home: Path) -> None:
    result, _ = locust(config, 1, WARM_UP_SECONDS, home)
    errors = sum(len(e) for e in result["errors"].values())
    if errors:
        first = next(e for e in result["errors"].values() if e)[0]
        raise SystemExit(f"the warm-up had {errors} errors, e.g. {first}")


# --- the report -------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(len(ordered) * share), 1) - 1] if ordered else float("nan")


def summary(times: list[float], errors: int, seconds: float) -> dict:
    return {
        "requests": len(times),
        "per_second": len(times) / seconds,
        "p50": percentile(times, 0.50),
        "p95": percentile(times, 0.95),
        "p99": percentile(times, 0.99),
        "max": max(times, default=float("nan")),
        "errors": errors,
    }


def phase_figures(phase: Phase) -> dict:
    rows = {
        name: summary(times, len(phase.result["errors"].get(name, [])), phase.seconds)
        for name, times in sorted(phase.result["times"].items())
    }
    rows["overall"] = summary(phase.all_times(), phase.errors(), phase.seconds)
    return rows


def print_phase(phase: Phase, server: Server) -> dict:
    rows = phase_figures(phase)
    print(f"\n{phase.name}: {phase.result['users']} users, {phase.seconds:.0f} s measured")
    print(
        f"  {'request':28} {'count':>7} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'errors':>6}"
    )
    for name, row in rows.items():
        print(
            f"  {name:28} {row['requests']:7d} {row['per_second']:7.2f} {row['p50']:8.1f} {row['p95']:8.1f} "
            f"{row['p99']:8.1f} {row['max']:8.1f} {row['errors']:6d}"
        )
    for name, errors in phase.result["errors"].items():
        print(f"  errors of {name}: {len(errors)}, e.g. {errors[0]}")
    for problem in phase.result["user_exceptions"]:
        print(f"  exception in a Locust user: {problem}")
    cpu = ", ".join(f"{who} {seconds:.0f} s" for who, seconds in phase.cpu.items())
    print(f"  requests served per daphne process: {phase.served}; CPU: {cpu}")
    print(
        f"  PostgreSQL connections of the bench database: at most {phase.connections_max} at once, "
        f"{phase.connections_opened} opened; load average (1 min) {phase.load_before:.2f} before, "
        f"{phase.load_after:.2f} after"
    )
    if phase.stopped_at_connections:
        print(
            f"  STOPPED: {phase.stopped_at_connections} connections at once (over --max-connections); "
            "daphne killed"
        )
    if phase.errors() or phase.stopped_at_connections:
        print("  daphne's warnings and errors:\n" + "\n".join(f"    {line}" for line in server.error_lines()))
    return {
        "users": phase.result["users"],
        "seconds": phase.seconds,
        "rows": rows,
        "served": phase.served,
        "cpu": phase.cpu,
        "connections_max": phase.connections_max,
        "connections_opened": phase.connections_opened,
        "load": [phase.load_before, phase.load_after],
        "stopped_at_connections": phase.stopped_at_connections,
    }


def print_ratios(baseline: dict, load: dict, label: str) -> dict:
    base, busy = baseline["rows"]["overall"], load["rows"]["overall"]
    ratios = {
        "p50": busy["p50"] / base["p50"],
        "p95": busy["p95"] / base["p95"],
        "throughput": busy["per_second"] / base["per_second"],
    }
    print(
        f"ratio {label} / baseline (1 user): p50 {ratios['p50']:.2f}x, p95 {ratios['p95']:.2f}x, "
        f"throughput {ratios['throughput']:.2f}x with {load['users']}x the users"
    )
    return ratios


# --- main -------------------------------------------------------------------------------------------


def redis_for_bench(redis_url: str, db: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def forget_redis_keys(redis_url: str, schema: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{schema}*"))
    if keys:
        client.delete(*keys)
    return len(keys)


POOL_SETTINGS = """from portal.settings import *  # noqa: F403 - the project's, and Django's psycopg pool

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405 - the pool refuses persistent connections
POOL = {{"min_size": 2, "max_size": {size}, "timeout": 10}}
DATABASES["default"].setdefault("OPTIONS", {{}})["pool"] = POOL  # noqa: F405
"""


def variants(args, redis_url: str, home: Path) -> list[tuple[str, dict]]:
    """(label, daphne's environment) per load phase: each DB_CONN_MAX_AGE, then the pool if asked for."""
    found = [(f"DB_CONN_MAX_AGE={age}", daphne_env(redis_url, conn_max_age=age)) for age in args.conn_max_age]
    if args.pool:
        (home / "bench_load_settings.py").write_text(POOL_SETTINGS.format(size=args.pool))
        env = daphne_env(redis_url, conn_max_age=0)
        env["PYTHONPATH"] = os.pathsep.join([str(home), str(ROOT)])
        env["DJANGO_SETTINGS_MODULE"] = "bench_load_settings"
        found.append((f"psycopg pool of {args.pool} per process", env))
    return found


def measure(
    args, home: Path, database: str, host: str, credentials: list[dict], redis_url: str
) -> tuple[dict, bool]:
    config = home / "load-config.json"
    figures: dict = {"load": {}, "ratios": {}}
    ok = True
    for n, (variant, env) in enumerate(variants(args, redis_url, home)):
        with daphne_workers(args.workers, args.sockets, env, home, f"v{n}") as server:
            where = {"url": f"http://127.0.0.1:{server.port}", "host": f"{host}:{server.port}"}
            config.write_text(json.dumps({**where, "credentials": credentials}))
            print(
                f"\n{args.workers} daphne processes {[p.pid for p in server.processes]} on 127.0.0.1:"
                f"{server.port} (sockets: {args.sockets}), {variant}"
            )
            warm_up(config, home)

            def measured(name: str, users: int, seconds: float) -> dict:
                phase = run_phase(name, server, config, users, seconds, home, database, args.max_connections)
                nonlocal ok
                ok &= phase.errors() == 0 and not phase.stopped_at_connections
                return print_phase(phase, server)

            if n == 0:
                figures["baseline"] = measured("baseline", 1, args.baseline_seconds)
            label = f"load, {variant}"
            figures["load"][variant] = measured(label, args.users, args.seconds)
            figures["ratios"][variant] = print_ratios(figures["baseline"], figures["load"][variant], label)
    return figures, ok


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks stop daphne, drop the db
    redis_url = redis_for_bench(os.environ.pop("REDIS_URL"), args.redis_db)  # daphne's only
    print(
        f"load average before setup: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="runyard-load-") as home, throwaway_database() as database:
        os.environ["RUNYARD_HOME"] = home
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        os.environ["LOG_LEVEL"] = "warning"  # the setup's hundreds of inline tasks; daphne logs at info
        import django

        django.setup()
        from django.db import connections

        started = time.perf_counter()
        host, credentials = setup(args.users)
        connections.close_all()
        print(
            f"tenant {SLUG} seeded with the demo data and {len(credentials)} members with sessions and "
            f"tokens in {time.perf_counter() - started:.1f} s"
        )
        print(
            f"raised for the run: {', '.join(f'{k}={v}' for k, v in RAISED_LIMITS.items())}; "
            f"Redis {redis_url}"
        )
        try:
            figures, ok = measure(args, Path(home), database, host, credentials, redis_url)
        finally:
            print(
                f"removed {forget_redis_keys(redis_url, SLUG.replace('-', '_'))} keys of the bench tenant "
                "from Redis"
            )
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    if not ok:
        raise SystemExit("there were errors")


if __name__ == "__main__":
    main()
