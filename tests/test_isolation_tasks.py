"""Celery tasks across tenants: a task sent in beta's schema with the identifiers of alpha's things finds
nothing (no crash, no change to alpha), and the tasks that take no identifier, fanned out to beta, touch
beta only.

The tasks are read from the Celery app itself, so a task is covered the day it is added: it must be listed
below as taking alpha's identifiers (and how to build them), as working on the schema it runs in, or as a
public-schema task with the reason it is one.
"""

import inspect
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from portal.celery import app
from tests.isolation_targets import changed, fingerprint, made_alpha_things

# Tasks that name one of a tenant's things: the arguments that name alpha's.
OBJECT_TASKS = {
    "jobs.start_workset_task": lambda t, world: (t.workset.code,),
    "jobs.cancel_run_task": lambda t, world: (t.workset.code,),
    "analysis.parse_profile_task": lambda t, world: (t.profile.code, t.profile.attempt),
    "analysis.find_result_profiles_task": lambda t, world: (t.workset.code,),
    "analysis.ingest_costs_task": lambda t, world: (t.ingest.code,),
    "notifications.deliver_notification_task": lambda t, world: (t.delivery.pk,),
    "tenants.check_budget_task": lambda t, world: (world.tenant.pk,),
}
# Tasks that work on the whole schema they run in (beat fans them out, one per tenant).
SCHEMA_TASKS = {
    "jobs.release_held_worksets_task",
    "analysis.resend_waiting_task",
    "jobs.poll_tenant_runs_task",
    "notifications.resend_overdue_task",
    "tenants.measure_storage_task",
    "tenants.ping_task",
}
# Tasks of the public schema, which serve every tenant by design.
PUBLIC_TASKS = {
    "portal.fan_out_to_tenants": "beat's fan-out: sends a task once per active tenant, in its schema",
    "jobs.dispatch_task": "the dispatcher places every tenant's queued worksets on the shared clusters",
    "jobs.poll_runs_task": "sends one poll per tenant with placed worksets, into that tenant's schema",
    "jobs.check_clusters_task": "checks the clusters of the catalogue, which serve every tenant",
    "tenants.close_month_task": "issues every customer's invoice on the 1st (public billing tables)",
    "tenants.provision_signup_task": "turns a verified sign-up into a new tenant; the code names a sign-up",
    "tenants.resume_signups_task": "sends again the provisioning of verified sign-ups (public sign-up table)",
}


def our_tasks() -> dict:
    app.loader.import_default_modules()  # every app's tasks module, as a worker loads them
    # celery's own, and tasks that test modules register for themselves (collected in the same process)
    return {
        name: task
        for name, task in app.tasks.items()
        if not name.startswith("celery.") and not task.__module__.startswith("tests.")
    }


def test_every_task_is_listed_with_what_it_takes():
    tasks = our_tasks()
    listed = OBJECT_TASKS.keys() | SCHEMA_TASKS | PUBLIC_TASKS.keys()
    assert tasks.keys() == listed, f"unlisted: {tasks.keys() - listed}; gone: {listed - tasks.keys()}"
    for name in SCHEMA_TASKS:
        required = [
            p
            for p in inspect.signature(tasks[name].run).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        assert not required, f"{name} takes {required}: list it in OBJECT_TASKS with alpha's identifiers"


@pytest.fixture
def alpha_things(db, world):
    with made_alpha_things(world) as things:
        _overspend(world.tenant)
        yield things


def _overspend(tenant) -> None:
    """Alpha spent more than its budget this month: a check of alpha's budget would raise alerts."""
    from datetime import UTC, datetime, timedelta

    from tenants.models import Quota, UsageRecord
    from tenants.services.usage import record_usage

    Quota.objects.filter(tenant=tenant).update(monthly_budget_usd=Decimal("0.01"))
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    record_usage(
        tenant,
        UsageRecord.Kind.VCPU,
        Decimal(100),
        basis=UsageRecord.Basis.MEASURED,
        source="test",
        period_start=start,
        period_end=start + timedelta(hours=1),
        dimension="normal",
    )


def send_in(tenant, name: str, args=()):
    """Send the task from ``tenant``'s schema, as the app does (it runs there; eagerly in tests)."""
    with tenant_context(tenant):
        return our_tasks()[name].apply_async(args=args).get()


def test_a_task_sent_in_betas_schema_with_alphas_identifiers_changes_nothing_of_alpha(world, alpha_things):
    before = fingerprint(world.tenant)
    answers = {}
    for name, arguments in OBJECT_TASKS.items():
        answers[name] = send_in(world.other, name, arguments(alpha_things, world))  # raises if it crashes
        assert changed(before, fingerprint(world.tenant)) == [], name
    leaked = {name: answer for name, answer in answers.items() if alpha_things.profile.name in str(answer)}
    assert not leaked
    assert answers["jobs.start_workset_task"] == "gone" and answers["analysis.parse_profile_task"] == "gone"
    # the control: the budget check sent in alpha's own schema does change alpha (its alerts)
    assert send_in(world.tenant, "tenants.check_budget_task", (world.tenant.pk,)) == [80, 100]
    assert "public.tenants.BudgetAlert" in changed(before, fingerprint(world.tenant))


def test_the_schema_wide_tasks_run_in_beta_touch_nothing_of_alpha(world, alpha_things):
    before = fingerprint(world.tenant)
    for name in sorted(SCHEMA_TASKS):
        send_in(world.other, name)
        assert changed(before, fingerprint(world.tenant)) == [], name
