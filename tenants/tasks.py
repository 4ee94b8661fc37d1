from django.db import connection

from portal.celery import app


@app.task(name="tenants.ping_task", acks_late=True, ignore_result=False)  # the demo waits for its answer
def ping_task() -> dict:
    """Proves the worker path: returns (and the result backend records) the schema it ran in."""
    return {"schema": connection.schema_name}


@app.task(name="tenants.provision_signup_task", acks_late=True, time_limit=300, soft_time_limit=240)
def provision_signup_task(signup_code: str) -> str:
    """Self-service sign-up, after the email is verified. A second run of a handled signup does nothing;
    one killed at ``time_limit`` is queued again by ``resume_signups_task``."""
    from tenants.services.signup import provision_signup

    return provision_signup(signup_code).state


@app.task(name="tenants.resume_signups_task", acks_late=True, time_limit=120)
def resume_signups_task() -> list[str]:
    """Beat, each minute: provision the verified signups whose first send was lost, or whose run died."""
    from django_tenants.utils import schema_context

    from tenants.services.signup import resume_signups

    with schema_context("public"):
        return resume_signups()


@app.task(name="tenants.measure_storage_task", acks_late=True, time_limit=3600, soft_time_limit=3500)
def measure_storage_task() -> str:
    """Just after midnight UTC, fanned out per tenant: book the day that has just ended with what the
    bucket holds now, then check the budget."""
    from datetime import timedelta

    from django.utils import timezone

    from tenants.services.usage import measure_storage

    record = measure_storage(connection.tenant, timezone.now().date() - timedelta(days=1))
    return str(record.quantity) if record else "no bucket"


@app.task(name="tenants.check_budget_task", acks_late=True, time_limit=300)
def check_budget_task(tenant_id: int | None = None) -> list[int]:
    """After usage is recorded (tenant id given) and daily (fanned out: the tenant of the schema).

    A tenant id is obeyed from the public schema or its own tenant's only: sent in another tenant's schema
    (or naming no tenant), the task does nothing, as every tenant's task finds nothing of another's."""
    from django_tenants.utils import get_public_schema_name

    from tenants.models import Tenant
    from tenants.services.budgets import check_budget

    tenant = Tenant.objects.filter(pk=tenant_id).first() if tenant_id else connection.tenant
    if tenant is None or connection.schema_name not in (get_public_schema_name(), tenant.schema_name):
        return []
    return [alert.threshold for alert in check_budget(tenant)]


@app.task(name="tenants.close_month_task", acks_late=True, time_limit=3600)
def close_month_task() -> dict:
    """On the 1st: issue last month's invoices and release billing holds."""
    from tenants.services.billing import close_month

    return close_month()
