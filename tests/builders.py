"""Plain builders with explicit defaults, for tests and benches."""

from django.utils import timezone

PASSWORD = "correct-horse-battery-9"


def ensure_user(email: str, *, password: str = PASSWORD, **fields):
    from allauth.account.models import EmailAddress

    from tenants.models import User

    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, password, **fields)
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user


def make_token(user, tenant, *, name: str = "test", expires_at=None) -> str:
    from tenants.services import create_api_token

    _, key = create_api_token(user=user, tenant=tenant, name=name, expires_at=expires_at)
    return key


def make_tenant(slug: str, *, owner_email: str | None = None, name: str | None = None):
    from tenants.services import onboard_tenant

    return onboard_tenant(
        name or slug.title(),
        slug=slug,
        owner_email=owner_email or f"owner@{slug}.example",
        owner_password=PASSWORD,
    )


def minutes_from_now(minutes: int):
    return timezone.now() + timezone.timedelta(minutes=minutes)


# A path of legal transitions from queued to each state, for building worksets in any state.
WORKSET_PATHS = {
    "queued": [],
    "dispatched": ["dispatched"],
    "running": ["dispatched", "running"],
    "completed": ["dispatched", "running", "completed"],
    "failed": ["dispatched", "running", "failed"],
    "dead_letter": ["dispatched", "running", "failed", "dead_letter"],
    "retry_wait": ["dispatched", "running", "failed", "retry_wait"],
    "cancelled": ["cancelled"],
    "archived": ["cancelled", "archived"],
}


def workset_spec(name: str = "GIAB batch", *, samples: int | list = 1, **overrides) -> dict:
    """A spec with ``samples`` made-up rows, or the given rows (e.g. inputs uploaded by a test)."""
    rows = (
        samples
        if isinstance(samples, list)
        else [
            {
                "sample_id": f"HG00{n}",
                "fastq_r1": f"inputs/HG00{n}_R1.fastq.gz",
                "fastq_r2": f"inputs/HG00{n}_R2.fastq.gz",
            }
            for n in range(1, samples + 1)
        ]
    )
    return {
        "spec_version": 1,
        "name": name,
        "pipeline": "germline",
        "reference_genome": "hg38",
        "samples": rows,
    } | overrides


def make_workset(tenant, *, state: str = "queued", actor=None, **spec_overrides):
    """A workset submitted through the service (dry run: no bucket needed), then moved along legal
    transitions to ``state``."""
    from django_tenants.utils import tenant_context

    from jobs.services import create_workset

    with tenant_context(tenant):
        workset = create_workset(tenant, workset_spec(**spec_overrides), actor=actor, dry_run=True)
        for step in WORKSET_PATHS[state]:
            workset.transition_to(step, reason="test")
    return workset


def run_spec(samples: list[dict], pipeline: str, **overrides) -> dict:
    """A spec over samples that are really in the bucket, for worksets that run."""
    return {
        "spec_version": 1,
        "name": f"{pipeline} run",
        "pipeline": pipeline,
        "reference_genome": "GRCh38",
        "samples": samples,
    } | overrides


def committed(tenant, change):
    """Run ``change`` in its own thread, in ``tenant``'s schema (None: public): its own connection, outside
    the test's transaction, so what it writes commits and other processes (daphne, workers) see it."""
    import threading

    from django.db import connections
    from django_tenants.utils import tenant_context

    results, failures = [], []

    def run():
        try:
            if tenant is None:
                results.append(change())
            else:
                with tenant_context(tenant):
                    results.append(change())
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]
    return results[0]


def load_cost_rows(jobs_json: str, rates_csv: str, *, shift_days: int = 0) -> None:
    """Teams, jobs and rates straight into the current schema, then the rollups rebuilt: the data of
    cost analytics without the ingestion path (which has its own tests). ``shift_days`` moves every
    timestamp and rate day by whole days (costs unchanged)."""
    from datetime import timedelta

    from analysis.costs.rates import read_rates_csv
    from analysis.costs.records import JobRecord, TeamRecord, read_json
    from analysis.models import GpuJob, RateSnapshot, Team
    from analysis.rollups import rebuild_rollups

    shift = timedelta(days=shift_days)
    records = list(read_json(jobs_json))
    teams = {r.name: r for r in records if isinstance(r, TeamRecord)}
    jobs = [r for r in records if isinstance(r, JobRecord)]
    for name in {job.team_name for job in jobs} - teams.keys():
        teams[name] = TeamRecord(name, "", None)
    by_name = {
        t.name: Team.objects.create(name=t.name, description=t.description, budget_usd=t.budget_usd)
        for t in teams.values()
    }
    GpuJob.objects.bulk_create(
        GpuJob(
            job_id=j.job_id,
            team=by_name[j.team_name],
            model_name=j.model_name,
            provider=j.provider,
            gpu_type=j.gpu_type,
            gpu_count=j.gpu_count,
            start_time=j.start_time + shift,
            end_time=j.end_time and j.end_time + shift,
            status=j.status,
        )
        for j in jobs
    )
    RateSnapshot.objects.bulk_create(
        RateSnapshot(
            day=r.day + shift, provider=r.provider, gpu_type=r.gpu_type, usd_per_gpu_hour=r.usd_per_gpu_hour
        )
        for r in read_rates_csv(rates_csv.splitlines())
    )
    rebuild_rollups()


def parse_demo_profiles(name_prefix: str, *, actor) -> dict:
    """The demo's before and after runs (callgrind joined with objdump), uploaded and parsed in the
    current schema in that order ("after" is the latest): {"before": Profile, "after": Profile}."""
    from pathlib import Path

    from analysis.models import Profile
    from analysis.services import profiles as profile_services

    demo = Path(__file__).resolve().parents[1] / "analysis" / "demo_profiles"
    made = {}
    for run in ("before", "after"):
        with (demo / f"{run}.callgrind").open("rb") as data, (demo / f"{run}.objdump").open("rb") as dis:
            profile = profile_services.create_profile(
                name=f"{name_prefix} {run}",
                filename=f"callgrind.out.{run}",
                data=data,
                size=(demo / f"{run}.callgrind").stat().st_size,
                actor=actor,
                disassembly=("app.objdump", dis, (demo / f"{run}.objdump").stat().st_size),
            )
        profile_services.parse_profile(profile.code, profile.attempt)
        made[run] = Profile.objects.get(pk=profile.pk)
    return made


def spend_vcpu_hours(tenant, hours: str, *, reference: str) -> None:
    """Measured usage this month (Standard card: $0.04 per normal-priority vCPU-hour)."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from tenants.models import UsageRecord
    from tenants.services.usage import record_usage

    now = timezone.now()
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    record_usage(
        tenant,
        UsageRecord.Kind.VCPU,
        Decimal(hours),
        basis=UsageRecord.Basis.MEASURED,
        source="test",
        period_start=start,
        period_end=start + timedelta(hours=1),
        dimension="normal",
        reference=reference,
    )
