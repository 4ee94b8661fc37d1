"""How fast the dispatcher places a deep queue, alone and four at once, and whether it ever dispatches twice.

    python bench/dispatcher.py [--tenants 50] [--worksets 10000] [--processes 4] [--clusters 5]
                               [--seconds 60] [--profile]

It builds one queue in a database of its own (``runyard_bench_<pid>``, on the server of ``DATABASE_URL``):
``--tenants`` tenants onboarded through ``tenants.services.onboard_tenant`` (template clone, as in
bench/tenant_onboarding.py) with a concurrency quota above their share; ``--worksets`` queued worksets
spread round-robin over them, inserted with ``bulk_create`` (the Workset rows in each schema, and the public
QueueEntry rows ``jobs.queue`` writes when a workset queues: priority mixed, one in ten preferring a
cluster); ``--clusters`` clusters whose capacities add up to the whole queue. It copies that database twice
(``CREATE DATABASE ... TEMPLATE``), and on each copy real processes run ``jobs.dispatch.dispatch()`` in the
public schema in runs of 50 decisions (``runyard dispatch --limit 50``): (a) the baseline, 1 process; (b)
``--processes`` processes at once. Every process connects and imports first and starts on the same signal;
each mode dispatches for ``--seconds`` (0: until its queue is empty), timed from the signal to the last
process done. Children run without REDIS_URL and with a RUNYARD_HOME of their own, so the start messages
they send land in a filesystem broker nobody reads.

It prints decisions/s per mode, the ratio (b)/(a), and the checks on each copy: worksets with more than one
queued -> dispatched transition (must be 0), clusters over capacity, SlotCounters that differ from the
placed entries they count, decisions that differ from the worksets dispatched. ``--profile`` adds where the
baseline's time goes. Every database is dropped at the end, also on failure or SIGTERM.
"""

import argparse
import cProfile
import json
import os
import pstats
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tenant_onboarding import admin_sql, server_url, with_database  # noqa: E402

PRIORITIES = (("urgent", 0, 1), ("normal", 1, 7), ("low", 2, 2))  # name, rank, weight
PIPELINE, REFERENCE = "germline", "GRCh38"
RUN_LIMIT = 50  # decisions per dispatcher run (200 by default): short runs keep to the time box


@dataclass
class Mode:
    label: str
    processes: int
    decisions: int
    seconds: float
    per_process: list[int]

    @property
    def rate(self) -> float:
        return self.decisions / self.seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--worksets", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=4, help="dispatchers at once in mode (b)")
    parser.add_argument("--clusters", type=int, default=5)
    parser.add_argument(
        "--seconds",
        type=float,
        default=60,
        help="how long each mode dispatches from the queue (0: until it is empty; default 60)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the baseline dispatcher and print where its time goes"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


# --- Databases ----------------------------------------------------------------------------------


@contextmanager
def databases(names: list[str]):
    """Drop every database in ``names`` at the end, whatever happens (they are created along the way)."""
    server = server_url()
    try:
        yield server
    finally:
        from django.conf import settings
        from django.db import connections

        if settings.configured:
            connections.close_all()
        for name in names:
            admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def use_database(name: str) -> None:
    """Point Django's connection at ``name`` (closing the current one)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


# --- The queue ----------------------------------------------------------------------------------


def build(tenant_count: int, workset_count: int, cluster_count: int) -> list:
    from django.test import override_settings

    from tenants.services import setup_database

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        setup_database(verbosity=0)
        t0 = time.perf_counter()
        tenants = [onboard(n) for n in range(tenant_count)]
    print(f"{tenant_count} tenants onboarded in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    clusters = make_clusters(cluster_count, workset_count)
    queue_worksets(tenants, workset_count, [c.name for c in clusters])
    print(f"{workset_count:,} queued worksets and their queue entries in {time.perf_counter() - t0:.1f} s")
    return tenants


def onboard(n: int):
    from tenants.models import Quota
    from tenants.services import onboard_tenant

    slug = f"d-{n:03d}"
    tenant = onboard_tenant(f"Dispatch {n}", slug=slug, owner_email=f"owner@{slug}.bench.invalid")
    Quota.objects.filter(tenant=tenant).update(max_concurrent_worksets=1000)
    return tenant


def make_clusters(count: int, worksets: int) -> list:
    from jobs.catalog.models import Cluster

    capacity = -(-worksets // count)  # enough for every workset
    return [
        Cluster.objects.create(
            name=f"bench-{n}",
            backend="local",
            region=("us-east-1", "eu-west-1")[n % 2],
            usd_per_vcpu_hour=f"0.0{4 + n % 3}",
            capacity=capacity,
        )
        for n in range(count)
    ]


def queue_worksets(tenants: list, count: int, cluster_names: list[str]) -> None:
    """Workset rows in each schema and the QueueEntry rows ``jobs.queue`` writes when they queue."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from jobs.catalog.models import QueueEntry
    from jobs.models import State, Workset, new_code

    rng = random.Random(42)  # noqa: S311 - a reproducible mix, not a secret
    start = timezone.now() - timedelta(hours=1)
    per_tenant: dict[int, list[Workset]] = {t.pk: [] for t in tenants}
    entries = []
    for i in range(count):
        tenant = tenants[i % len(tenants)]
        name = f"Bench {i}"
        priority, rank = rng.choices([(p, r) for p, r, _ in PRIORITIES], [w for *_, w in PRIORITIES])[0]
        preferred = rng.choice(cluster_names) if rng.random() < 0.1 else ""
        queued_at = start + timedelta(milliseconds=i)
        workset = Workset(
            code=new_code(name),
            name=name,
            spec={"spec_version": 1, "name": name, "pipeline": PIPELINE, "reference_genome": REFERENCE},
            pipeline=PIPELINE,
            reference_genome=REFERENCE,
            priority=priority,
            preferred_cluster=preferred,
            sample_count=1,
            state=State.QUEUED,
            state_changed_at=queued_at,
            created_at=queued_at,
        )
        per_tenant[tenant.pk].append(workset)
        entries.append(
            QueueEntry(
                tenant=tenant,
                workset_code=workset.code,
                workset_name=name,
                pipeline=PIPELINE,
                priority=priority,
                rank=rank,
                preferred_cluster=preferred,
                status=QueueEntry.Status.QUEUED,
                queued_at=queued_at,
            )
        )
    for tenant in tenants:
        with schema_context(tenant.schema_name):
            Workset.objects.bulk_create(per_tenant[tenant.pk], batch_size=1000)
    QueueEntry.objects.bulk_create(entries, batch_size=1000)


# --- Dispatcher processes -----------------------------------------------------------------------


def child() -> None:
    """One dispatcher: set up, say ready, wait for the go line, empty the queue, print what it did."""
    import django

    django.setup()
    from django.db import connection
    from django_tenants.utils import schema_context

    from jobs.dispatch import dispatch

    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    profile = os.environ.get("RUNYARD_BENCH_PROFILE")
    profiler = cProfile.Profile() if profile else None
    seconds = float(os.environ["RUNYARD_BENCH_SECONDS"])
    started, decisions = time.time(), 0
    if profiler:
        profiler.enable()
    with schema_context("public"):
        while not seconds or time.time() - started < seconds:
            report = dispatch(limit=RUN_LIMIT)
            decisions += report.decisions
            if not report.decisions:
                break
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    print(json.dumps({"decisions": decisions, "started": started, "ended": time.time()}), flush=True)


def run_dispatchers(
    label: str, database_url: str, processes: int, seconds: float, profile: Path | None = None
) -> Mode:
    home = Path(tempfile.mkdtemp(prefix=f"runyard-bench-{label}-"))
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url,
        "RUNYARD_HOME": str(home),
        "RUNYARD_MAX_RUNNING_WORKSETS": "1000000",
        "RUNYARD_BENCH_SECONDS": str(seconds),
    }
    if profile:
        env["RUNYARD_BENCH_PROFILE"] = str(profile)
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    try:
        children = [
            subprocess.Popen(
                command, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            for _ in range(processes)
        ]
        for process in children:
            if process.stdout.readline().strip() != "ready":
                raise SystemExit(f"{label}: a dispatcher failed to start")
        for process in children:
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in children:
            out, _ = process.communicate(timeout=3600)
            if process.returncode:
                raise SystemExit(f"{label}: a dispatcher exited with {process.returncode}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    seconds = max(r["ended"] for r in results) - min(r["started"] for r in results)
    per_process = [r["decisions"] for r in results]
    return Mode(label, processes, sum(per_process), seconds, per_process)


# --- Checks -------------------------------------------------------------------------------------


def check(tenants: list) -> dict[str, int]:
    """What the copy says after its run: double dispatches, overfills, counters off, worksets left."""
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from jobs import queue
    from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
    from jobs.models import State, Workset, WorksetTransition

    counters = dict(SlotCounter.objects.values_list("scope", "used"))
    placed = QueueEntry.objects.placed()
    twice = dispatched = 0
    counters_off = 0
    for tenant in tenants:
        with schema_context(tenant.schema_name):
            moves = WorksetTransition.objects.filter(to_state=State.DISPATCHED, from_state=State.QUEUED)
            per_workset = moves.values("workset").annotate(n=Count("id"))
            twice += per_workset.filter(n__gt=1).count()
            dispatched += Workset.objects.filter(state=State.DISPATCHED).count()
        on_tenant = placed.filter(tenant=tenant).count()
        counters_off += counters.get(queue.tenant_scope(tenant.pk), 0) != on_tenant
    over = 0
    for cluster in Cluster.objects.all():
        on_cluster = placed.filter(cluster=cluster).count()
        over += on_cluster > cluster.capacity
        counters_off += counters.get(queue.cluster_scope(cluster.pk), 0) != on_cluster
    counters_off += counters.get(queue.GLOBAL, 0) != placed.count()
    return {
        "double_dispatched": twice,
        "dispatched": dispatched,
        "placed_entries": placed.count(),
        "clusters_over_capacity": over,
        "counters_off": counters_off,
        "left_queued": QueueEntry.objects.dispatchable().count(),
    }


# --- Report -------------------------------------------------------------------------------------


def report(modes: list[Mode], checks: list[dict[str, int]], *, must_empty: bool) -> None:
    print(f"\n{'mode':<24} {'decisions':>9} {'seconds':>8} {'decisions/s':>11}  per process")
    for mode in modes:
        print(
            f"{mode.label:<24} {mode.decisions:>9,} {mode.seconds:>8.1f} {mode.rate:>11.1f}  "
            f"{', '.join(f'{n:,}' for n in mode.per_process)}"
        )
    baseline, concurrent = modes
    print(f"\nratio {concurrent.processes} processes vs 1: {concurrent.rate / baseline.rate:.2f}x")
    for mode, found in zip(modes, checks, strict=True):
        print(f"{mode.label}: " + ", ".join(f"{key} {value:,}" for key, value in found.items()))
    must_be_zero = ("double_dispatched", "clusters_over_capacity", "counters_off")
    must_be_zero += ("left_queued",) if must_empty else ()
    problems = [
        f"{mode.label}: {key} {found[key]}"
        for mode, found in zip(modes, checks, strict=True)
        for key in must_be_zero
        if found[key]
    ]
    problems += [
        f"{mode.label}: {mode.decisions} decisions reported, {found['dispatched']} worksets dispatched"
        for mode, found in zip(modes, checks, strict=True)
        if not mode.decisions == found["dispatched"] == found["placed_entries"]
    ]
    fine = "no double dispatch, no overfill, counters exact" + (", queue empty" if must_empty else "")
    print("checks: " + ("FAILED: " + "; ".join(problems) if problems else fine))
    if problems:
        raise SystemExit(1)


def print_profile(path: Path, decisions: int) -> None:
    """The baseline's functions by cumulative time, in ms per decision (with the profiler's overhead)."""
    stats = pstats.Stats(str(path))
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][3])  # type: ignore[attr-defined]
    print(f"\ncProfile of the baseline dispatcher, cumulative ms per decision ({decisions:,} decisions):")
    for (file, line, name), (_, calls, _, cumulative, _) in rows[:40]:
        where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if line else file
        print(f"  {1000 * cumulative / decisions:>8.2f}  {calls / decisions:>6.1f}/decision  {name}  {where}")


def measure(args: argparse.Namespace, tenants: list, urls: dict[str, str], home: Path) -> None:
    box = f"for {args.seconds:g} s each" if args.seconds else "until the queue is empty"
    print(f"{os.cpu_count()} CPUs; 1 dispatcher, then {args.processes} at once, each on its own copy, {box}")
    profile = home / "baseline.prof" if args.profile else None
    modes = [
        run_dispatchers("(a) 1 process", urls["a"], 1, args.seconds, profile),
        run_dispatchers(f"(b) {args.processes} processes", urls["b"], args.processes, args.seconds),
    ]
    checks = []
    for label in ("a", "b"):
        use_database(urlsplit(urls[label]).path.lstrip("/"))
        checks.append(check(tenants))
    if profile:
        print_profile(profile, modes[0].decisions)
    report(modes, checks, must_empty=not args.seconds)


def main() -> None:
    args = parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if args.child:
        child()
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally block drops the databases
    os.environ.pop("REDIS_URL", None)  # nothing of the bench reaches a shared broker or channel layer
    home = Path(tempfile.mkdtemp(prefix="runyard-bench-home-"))
    os.environ["RUNYARD_HOME"] = str(home)  # onboarding's buckets and the broker folders, removed at the end
    seed = f"runyard_bench_{os.getpid()}"
    copies = {"a": f"{seed}_a", "b": f"{seed}_b"}
    try:
        with databases([seed, *copies.values()]) as server:
            admin_sql(server, f'CREATE DATABASE "{seed}"')
            os.environ["DATABASE_URL"] = with_database(server, seed)
            import django

            django.setup()
            tenants = build(args.tenants, args.worksets, args.clusters)
            use_database(seed)
            from django.db import connections

            connections.close_all()
            for copy in copies.values():
                admin_sql(server, f'CREATE DATABASE "{copy}" TEMPLATE "{seed}"')
            measure(
                args, tenants, {label: with_database(server, name) for label, name in copies.items()}, home
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
