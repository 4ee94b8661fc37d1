"""Celery tasks of the analysis app (they run in the schema they were sent from)."""

from portal.celery import app


@app.task(
    name="analysis.parse_profile_task", bind=True, acks_late=True, time_limit=3600, soft_time_limit=3500
)
def parse_profile_task(self, code: str, attempt: int) -> str:
    """Parse one attempt of a profile; sent twice, the second finds it claimed or done and does nothing.
    Redelivered by the broker (the worker parsing it died), it takes the parse over."""
    from analysis.services.profiles import parse_profile

    profile = parse_profile(code, attempt, redelivered=_redelivered(self))
    return profile.state if profile else "gone"


@app.task(name="analysis.find_result_profiles_task", acks_late=True, time_limit=600)
def find_result_profiles_task(workset_code: str) -> list[str]:
    """Sent when a workset completes: its results' profiler files become profiles (idempotent)."""
    from analysis.services.profiles import find_result_profiles
    from jobs.models import Workset

    workset = Workset.objects.filter(code=workset_code).first()
    return [profile.code for profile in find_result_profiles(workset)] if workset else []


@app.task(name="analysis.ingest_costs_task", bind=True, acks_late=True, time_limit=7200, soft_time_limit=7000)
def ingest_costs_task(self, code: str) -> str:
    """Ingest one uploaded cost file; sent twice, the second finds it claimed or done and does nothing.
    Redelivered by the broker (the worker ingesting it died), it skips the batches already applied."""
    from analysis.services.costs import run_cost_ingest

    ingest = run_cost_ingest(code, redelivered=_redelivered(self))
    return ingest.state if ingest else "gone"


@app.task(name="analysis.resend_waiting_task", acks_late=True, time_limit=300)
def resend_waiting_task() -> list[str]:
    """Beat, once per tenant: send again the parses and ingests whose first send was lost."""
    from analysis.services.waiting import resend_waiting

    return resend_waiting()


def _redelivered(task) -> bool:
    """Put back by the broker after its worker died (Redis, and ``portal.broker`` without it, say so)."""
    return bool((task.request.delivery_info or {}).get("redelivered"))
