"""Cost by team for one month over millions of GPU jobs: daily rollups against the raw aggregate.

    python bench/cost_rollups.py [--jobs 10000000] [--repeat 5]

Both answers go through ``analysis.cost_analytics.cost_by(query, ["team"])`` in one tenant's schema:

- rollups: the query as the dashboard asks it; ``CostRollup`` rows of the month summed in SQL by team,
  plus the open (running) jobs prorated to now from the jobs table;
- raw: the same query with a status filter naming every status, which rollups cannot answer, so every
  job of the month is prorated per UTC day in SQL (``generate_series``) and joined to its day's rate.

The two answers must agree (cost, GPU-hours and job count per team, to 1e-6 relative) or the bench
fails. It prints the median of ``--repeat`` timed runs of each (after one warm-up run each), the ratio
raw/rollups, and whether the targets (rollups under 200 ms, at least 20x faster) are met. It also
times ``rebuild_rollups()`` (all rollups from the jobs, one SQL statement) and the incremental path
(``analysis.rollups.apply_job_changes`` on a batch of 10,000 changed jobs) for scale.

Jobs are generated in SQL with a fixed seed: 20 teams, 3 models each, 3 providers, 4 GPU types, start
times over the 120 days before today, 15 min to 48 h long, 1 % failed, 0.1 % running (started in the last
48 h, as running jobs are). The month asked about is the last full calendar month. Rates: one per day,
provider and GPU type. The bench never touches real data: it works in ``runyard_bench_<pid>`` (see
``bench/tenant_onboarding.py``) and drops it at the end, also on failure.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenant_onboarding import throwaway_database  # noqa: E402

TARGET_MS = 200
TARGET_RATIO = 20
DAYS = 120
TODAY = date.today()
FIRST_DAY = TODAY - timedelta(days=DAYS)
MONTH_END = TODAY.replace(day=1) - timedelta(days=1)  # the last full calendar month
MONTH = (MONTH_END.replace(day=1), MONTH_END)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000_000, help="GPU jobs to generate")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each path")
    return parser.parse_args()


def fill(jobs: int) -> None:
    """Teams, jobs and rates of the current schema, generated in SQL (deterministic: setseed)."""
    from django.db import connection

    from analysis.models import GpuJob, RateSnapshot, Team

    Team.objects.bulk_create(Team(name=f"team-{i:02d}", budget_usd=50_000 + 5_000 * i) for i in range(20))
    teams = list(Team.objects.order_by("name").values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            f"""
            INSERT INTO {GpuJob._meta.db_table}
                (job_id, team_id, model_name, provider, gpu_type, gpu_count, start_time, end_time, status,
                 updated)
            SELECT 'job-' || i, (%(teams)s::bigint[])[1 + i %% 20],
                   'model-' || (i %% 20) || '-' || ((i / 20) %% 3),
                   (ARRAY['aws', 'gcp', 'azure'])[1 + (i / 60) %% 3],
                   (ARRAY['a100', 'h100', 'l4', 'a10g'])[1 + (i / 180) %% 4],
                   (ARRAY[1, 2, 4, 8])[1 + (i / 720) %% 4],
                   CASE WHEN r < 0.001 THEN now() - (random() * 172800)::int * INTERVAL '1 second' ELSE s END,
                   CASE WHEN r < 0.001 THEN NULL
                        ELSE s + (15 + (random() * 2865)::int) * INTERVAL '1 minute' END,
                   CASE WHEN r < 0.001 THEN 'running' WHEN r < 0.011 THEN 'failed' ELSE 'completed' END,
                   now()
            FROM (SELECT i, random() AS r,
                         %(first)s::timestamptz
                             + (random() * %(days)s * 86400)::int * INTERVAL '1 second' AS s
                  FROM generate_series(1, %(jobs)s) AS i) g
            """,  # noqa: S608
            {"teams": teams, "first": FIRST_DAY, "days": DAYS, "jobs": jobs},
        )
    RateSnapshot.objects.bulk_create(
        RateSnapshot(
            day=FIRST_DAY + timedelta(days=d),
            provider=provider,
            gpu_type=gpu,
            usd_per_gpu_hour=round(base * (0.9 + 0.2 * ((d * 7 + k) % 11) / 10), 2),
        )
        for d in range(DAYS + 3)
        for k, (provider, gpu, base) in enumerate(
            (p, g, b * m)
            for p, m in (("aws", 1.0), ("gcp", 0.95), ("azure", 1.05))
            for g, b in (("a100", 3.67), ("h100", 7.98), ("l4", 0.80), ("a10g", 1.21))
        )
    )


def timed(function, repeat: int):
    function()  # warm-up: plans, caches
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), answer


def agree(rollups, raw) -> None:
    left = rollups.set_index("team_name").sort_index()
    right = raw.set_index("team_name").sort_index()
    if list(left.index) != list(right.index):
        raise SystemExit("the two paths answered different teams")
    for column in ("cost", "gpu_hours", "job_count"):
        worst = ((left[column] - right[column]).abs() / right[column].abs().clip(lower=1e-9)).max()
        if worst > 1e-6:
            raise SystemExit(f"the two paths disagree on {column}: relative difference {worst:.2e}")


def incremental(batch: int) -> float:
    """Seconds to apply a batch of changed jobs (each moved by one hour) to the rollups."""
    import pandas as pd

    from analysis.models import GpuJob
    from analysis.rollups import apply_job_changes, stored_jobs_frame

    old = stored_jobs_frame(GpuJob.objects.filter(status="completed").order_by("id")[:batch])
    new = old.assign(
        start_time=old.start_time + pd.Timedelta(hours=1), end_time=old.end_time + pd.Timedelta(hours=1)
    )
    started = time.perf_counter()
    apply_job_changes(old, new)
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    with throwaway_database():
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        import django

        django.setup()
        from django_tenants.utils import tenant_context

        from analysis import cost_analytics
        from analysis.costs.records import OPEN_STATUSES, STATUSES
        from analysis.rollups import rebuild_rollups
        from tenants.services import onboard_tenant, setup_database

        setup_database(verbosity=0)
        tenant = onboard_tenant("Bench costs", slug="bench-costs", owner_email="owner@bench-costs.invalid")
        with tenant_context(tenant):
            started = time.perf_counter()
            fill(args.jobs)
            print(f"filled {args.jobs:,} jobs in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            rows = rebuild_rollups()
            print(f"rebuild_rollups: {rows:,} rollup rows in {time.perf_counter() - started:.1f} s")
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            query = cost_analytics.CostQuery(*MONTH)
            raw_query = cost_analytics.CostQuery(*MONTH, statuses=STATUSES)
            fast, by_rollups = timed(lambda: cost_analytics.cost_by(query, ["team"]), args.repeat)
            slow, by_raw = timed(lambda: cost_analytics.cost_by(raw_query, ["team"]), args.repeat)
            agree(by_rollups, by_raw)
            columns = cost_analytics._columns(["team"])
            stored, _ = timed(lambda: cost_analytics.stored_rows(query, columns), args.repeat)
            open_jobs, _ = timed(
                lambda: cost_analytics.raw_rows(query, columns, statuses=OPEN_STATUSES), args.repeat
            )
            print(f"cost by team, {MONTH[0]:%B %Y}, {len(by_rollups)} teams, ${by_rollups.cost.sum():,.2f}:")
            print(f"  rollups  {1000 * fast:8.1f} ms (median of {args.repeat})")
            print(f"    closed jobs' rollups {1000 * stored:.1f} ms, open jobs {1000 * open_jobs:.1f} ms")
            print(f"  raw      {1000 * slow:8.1f} ms (median of {args.repeat})")
            ratio = slow / fast
            print(f"  raw/rollups {ratio:.1f}x; answers agree")
            print(f"incremental: 10,000 changed jobs applied to the rollups in {incremental(10_000):.2f} s")
            met = 1000 * fast < TARGET_MS and ratio >= TARGET_RATIO
            print(f"target (< {TARGET_MS} ms and ≥ {TARGET_RATIO}x): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
