"""``python -m tests.faults.queue_ingest <schema> <file>``: store a cost file in the tenant's bucket and queue
its ingest as the cost data page does (``start_cost_ingest``), from a process of its own with the settings of
test_worker_kill.py's workers; prints the ingest's code."""

import sys
from pathlib import Path

import django


def main(schema: str, path: Path) -> str:
    django.setup()
    from django.core.files import File
    from django_tenants.utils import tenant_context

    from analysis.services.costs import start_cost_ingest
    from tenants.models import Tenant

    with path.open("rb") as data, tenant_context(Tenant.objects.get(schema_name=schema)):
        return start_cost_ingest(File(data, name=path.name), kind="jobs", actor=None).code


if __name__ == "__main__":
    print(main(sys.argv[1], Path(sys.argv[2])))
