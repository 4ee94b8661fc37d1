"""Ingesting a large file of GPU job metadata: rows per second and peak memory, against the file's size.

    python bench/cost_ingest.py [--rows 1000000] [--format json|csv]

It writes a Heliox-shaped file of ``--rows`` jobs (3 teams with budgets first, then the jobs; 1M rows
are ~250 MB of JSON) and a rate file for its days, then ingests both through the real path:
``analysis.services.costs.start_cost_ingest`` stores the file in the tenant's bucket and the Celery task
(run inline here, as ``runyard demo`` runs it) streams it back and applies it in batches, keeping the
rollups up to date. It prints the seconds, rows per second, the process's peak RSS before and after
the ingest (the baseline: the same process with Django loaded and the rates ingested) and the file size,
and checks the report (every row inserted) and that the rollups equal a rebuild. A second ingest of the
same file must report every row unchanged; its time is printed too.

The bench never touches real data: it works in ``runyard_bench_<pid>`` (see
``bench/tenant_onboarding.py``), with the storage backend of the settings (the local one under a
temporary ``RUNYARD_HOME`` unless configured otherwise), and drops the database at the end.
"""

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenant_onboarding import throwaway_database  # noqa: E402

FIRST = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 60


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="jobs in the file")
    parser.add_argument("--format", choices=["json", "csv"], default="json")
    return parser.parse_args()


def job(i: int) -> dict:
    start = FIRST + timedelta(minutes=(i * 7919) % (DAYS * 1440))
    return {
        "job_id": f"job-{i:07d}",
        "team_name": ("ml-research", "data-science", "ai-platform")[i % 3],
        "model_name": f"model-{i % 17}",
        "provider": ("aws", "gcp")[i % 2],
        "gpu_type": ("a100", "h100")[(i // 2) % 2],
        "gpu_count": (1, 2, 4, 8)[i % 4],
        "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": (start + timedelta(minutes=15 + (i * 104729) % 2880)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": "completed",
    }


def write_jobs(path: Path, rows: int, fmt: str) -> None:
    teams = [
        {"name": n, "description": "", "budget_usd": 50000}
        for n in ("ml-research", "data-science", "ai-platform")
    ]
    with open(path, "w", newline="") as out:
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=list(job(0)))
            writer.writeheader()
            writer.writerows(job(i) for i in range(rows))
            return
        out.write('{"teams": ' + json.dumps(teams) + ', "jobs": [\n')
        for i in range(rows):
            out.write(("," if i else "") + json.dumps(job(i)) + "\n")
        out.write("]}\n")


def write_rates(path: Path) -> None:
    with open(path, "w") as out:
        out.write("date,provider,gpu_type,usd_per_gpu_hour\n")
        for day in range(DAYS + 3):
            for provider in ("aws", "gcp"):
                for gpu, rate in (("a100", 3.67), ("h100", 7.98)):
                    out.write(f"{(FIRST + timedelta(days=day)).date()},{provider},{gpu},{rate}\n")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest(path: Path, kind: str):
    from django.core.files import File

    from analysis.services.costs import start_cost_ingest

    with open(path, "rb") as data:
        upload = File(data, name=path.name)
        upload.size = path.stat().st_size
        started = time.perf_counter()
        record = start_cost_ingest(upload, kind=kind, actor=None)
    record.refresh_from_db()
    return record, time.perf_counter() - started


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="runyard-bench-ingest-"))
    os.environ.setdefault("RUNYARD_HOME", str(work / "home"))
    jobs, rates = work / f"jobs.{args.format}", work / "rates.csv"
    write_jobs(jobs, args.rows, args.format)
    write_rates(rates)
    size_mb = jobs.stat().st_size / 1e6
    print(f"{args.rows:,} jobs in {size_mb:.0f} MB of {args.format.upper()}")
    with throwaway_database():
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        import django

        django.setup()
        from django_tenants.utils import tenant_context

        from portal.celery import app
        from tenants.services import onboard_tenant, setup_database

        app.conf.task_always_eager = True  # the task runs inline when the upload commits
        setup_database(verbosity=0)
        tenant = onboard_tenant("Bench ingest", slug="bench-ingest", owner_email="owner@bench-ingest.invalid")
        with tenant_context(tenant):
            ingest(rates, "rates")
            baseline = peak_mb()
            first, seconds = ingest(jobs, "jobs")
            rate = args.rows / seconds
            print(
                f"first ingest: {first.state} in {seconds:.1f} s, {rate:,.0f} rows/s, counts {first.counts}"
            )
            print(f"peak RSS {baseline:.0f} MB before, {peak_mb():.0f} MB after (file {size_mb:.0f} MB)")
            again, seconds = ingest(jobs, "jobs")
            print(f"same file again: {again.state} in {seconds:.1f} s, counts {again.counts}")
            check(first, again, args.rows)


def check(first, again, rows: int) -> None:
    from analysis.models import CostRollup
    from analysis.rollups import rebuild_rollups

    if first.counts.get("jobs", {}).get("inserted") != rows or first.failed:
        raise SystemExit(f"the first ingest did not insert every row: {first.counts}, {first.failed} failed")
    if again.counts.get("jobs", {}).get("unchanged") != rows:
        raise SystemExit(f"the second ingest changed something: {again.counts}")
    before = sorted(
        CostRollup.objects.values_list("day", "team_id", "model_name", "provider", "gpu_type", "gpu_hours")
    )
    rebuild_rollups()
    after = sorted(
        CostRollup.objects.values_list("day", "team_id", "model_name", "provider", "gpu_type", "gpu_hours")
    )
    worst = max((abs(a[-1] - b[-1]) for a, b in zip(before, after, strict=True)), default=0.0)
    if [a[:-1] for a in before] != [b[:-1] for b in after] or worst > 1e-6:
        raise SystemExit(f"the incremental rollups differ from a rebuild (worst {worst:.2e} GPU-hours)")
    print(f"report checked; incremental rollups equal a rebuild ({len(after):,} rows)")


if __name__ == "__main__":
    main()
