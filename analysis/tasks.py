"""Celery tasks of the analysis app (they run in the schema they were sent from)."""

from portal.celery import app


@app.task(name="analysis.parse_profile_task", acks_late=True, time_limit=3600, soft_time_limit=3500)
def parse_profile_task(code: str, attempt: int) -> str:
    """Parse one attempt of a profile; run twice, the second finds it claimed or done and does nothing."""
    from analysis.services.profiles import parse_profile

    profile = parse_profile(code, attempt)
    return profile.state if profile else "gone"


@app.task(name="analysis.find_result_profiles_task", acks_late=True, time_limit=600)
def find_result_profiles_task(workset_code: str) -> list[str]:
    """Sent when a workset completes: its results' profiler files become profiles (idempotent)."""
    from analysis.services.profiles import find_result_profiles
    from jobs.models import Workset

    workset = Workset.objects.filter(code=workset_code).first()
    return [profile.code for profile in find_result_profiles(workset)] if workset else []


@app.task(name="analysis.ingest_costs_task", acks_late=True, time_limit=7200, soft_time_limit=7000)
def ingest_costs_task(code: str) -> str:
    """Ingest one uploaded cost file; redelivered, it skips the batches already applied and goes on."""
    from analysis.services.costs import run_cost_ingest

    ingest = run_cost_ingest(code)
    return ingest.state if ingest else "gone"
