"""The Celery app. Tasks run in the schema they were sent from (tenant-schemas-celery)."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = CeleryApp("runyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="portal.fan_out_to_tenants")
def fan_out_to_tenants_task(task_name: str, *args, include_suspended: bool = False, **kwargs) -> list[str]:
    """Periodic work: send ``task_name`` once per active tenant, each running in its schema.

    Beat schedules this task with the tenant task's name as argument, e.g.
    ``{"task": "portal.fan_out_to_tenants", "schedule": 60, "args": ["jobs.dispatch_task"]}``.
    ``include_suspended`` reaches suspended tenants too: their buckets still hold (and cost) data.
    """
    from tenants.models import Tenant

    tenants = Tenant.objects.customers() if include_suspended else Tenant.objects.active()
    schemas = list(tenants.values_list("schema_name", flat=True))
    task = app.tasks[task_name]
    for schema in schemas:
        task.apply_async(args=args, kwargs=kwargs, headers={"_schema_name": schema})
    return schemas
