"""The cost dashboard page's server time on the demo tenant's data, against a light page in the same run.

    python bench/cost_dashboard.py [--repeat 40] [--profile N] [--top 25]

In ``runyard_bench_<pid>`` (see ``bench/tenant_onboarding.py``; dropped at the end, also on failure) it
onboards one tenant and seeds its costs as ``runyard demo`` does (``analysis.demo.seed_demo_costs``: the
Heliox-shaped sample, 3 teams, 30 jobs, 14 days of rates ending yesterday), and a member signed in on the
tenant's host. With Django's test client (no network, no daphne) it GETs, ``--repeat`` times each after
one warm-up, interleaved so machine load hits both alike:

- ``/costs/``, the dashboard with its default filters (the last 30 days), as the load test's users ask it;
- the baseline ``/worksets/`` (a list page with the same middleware, session and base template);
- ``/costs/`` again with Django's dummy cache (``uncached``): what a first view after an ingest costs.

It prints p50/p95 of each and the ratios costs/baseline and uncached/baseline of the p50s (every answer
must be 200 or the bench fails). ``--profile N`` adds a cProfile of N more uncached dashboard views
(cumulative time, ``--top`` lines) and the number of SQL statements one view sends.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenant_onboarding import throwaway_database  # noqa: E402

SLUG = "bench-costpage"
PAGES = {"costs": "/costs/", "baseline": "/worksets/"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=40, help="timed views of each page")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N more dashboard views")
    parser.add_argument("--top", type=int, default=25, help="lines of the profile to print")
    return parser.parse_args()


def setup():
    """The tenant with the demo's costs and a member's client on its host."""
    from django.test import Client
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from analysis.demo import seed_demo_costs
    from tenants.management.commands.demo import tasks_inline
    from tenants.models import Membership, Role, User
    from tenants.services import setup_database
    from tests.builders import make_tenant

    setup_database(verbosity=0)
    tenant = make_tenant(SLUG, owner_email=f"owner@{SLUG}.invalid")
    with tasks_inline(), schema_context(tenant.schema_name):
        if not seed_demo_costs(timezone.now().date()):
            raise SystemExit("the demo costs were not ingested")
    member = User.objects.create_user(email=f"member@{SLUG}.invalid", password=None)
    Membership.objects.create(user=member, tenant=tenant, role=Role.MEMBER)
    client = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    client.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    return client


def view(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}")
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def uncached(client, path: str) -> float:
    """A view with a cache that keeps nothing: everything computed as on a first view."""
    from django.test import override_settings

    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}):
        return view(client, path)


def measure(client, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in (*PAGES, "uncached")}
    for path in PAGES.values():
        view(client, path)  # warm-up: imports, templates, plans
    for _ in range(repeat):
        for name, path in PAGES.items():
            times[name].append(view(client, path))
        times["uncached"].append(uncached(client, PAGES["costs"]))
    return times


def profile(client, views: int, top: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        view(client, PAGES["costs"])
    print(f"one dashboard view sends {len(queries)} SQL statements")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(views):
        uncached(client, PAGES["costs"])
    profiler.disable()
    print(f"cProfile of {views} uncached dashboard views, by cumulative time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(top)


def main() -> None:
    args = parse_args()
    with throwaway_database():
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        import django

        django.setup()
        client = setup()
        times = measure(client, args.repeat)
        for name, path in (*PAGES.items(), ("uncached", PAGES["costs"])):
            p50, p95 = statistics.median(times[name]), percentile(times[name], 0.95)
            print(f"{name:9} {path:11} p50 {1000 * p50:6.1f} ms  p95 {1000 * p95:6.1f} ms  n={args.repeat}")
        base = statistics.median(times["baseline"])
        for name in ("costs", "uncached"):
            print(f"{name}/baseline p50: {statistics.median(times[name]) / base:.2f}x")
        if args.profile:
            profile(client, args.profile, args.top)


if __name__ == "__main__":
    main()
