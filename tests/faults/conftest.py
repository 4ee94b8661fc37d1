"""The fault tests run real processes (daphne, Celery workers) that commit into alpha and beta, outside any
test's transaction. After each module, every row they added is removed, in the tenants' schemas and in the
public tables that name a tenant, so the tests that follow in the same process find the world as it was."""

import pytest
from django.db.models import ProtectedError
from django.db.utils import IntegrityError
from django_tenants.utils import tenant_context

from tests.builders import committed
from tests.isolation_targets import _public_models, _tenant_models


def _rows(world) -> dict:
    """{(schema or "public", model label, tenant field): set of pks} of every row the tenants hold."""
    found = {}
    for tenant in (world.tenant, world.other):
        with tenant_context(tenant):
            for model in _tenant_models():
                found[(tenant.schema_name, model, "")] = set(model.objects.values_list("pk", flat=True))
    for model, field in _public_models():
        rows = model.objects.filter(**{f"{field}__in": [world.tenant, world.other]})
        found[("public", model, field)] = set(rows.values_list("pk", flat=True))
    return found


def _remove_new_rows(world, before: dict) -> None:
    tenants = {tenant.schema_name: tenant for tenant in (world.tenant, world.other)}
    left = list(before)
    for _ in range(3):  # a row another new row protects goes in a later pass
        blocked = []
        for key in left:
            schema, model, field = key
            try:
                if schema == "public":
                    rows = model.objects.filter(**{f"{field}__in": list(tenants.values())})
                    rows.exclude(pk__in=before[key]).delete()
                else:
                    with tenant_context(tenants[schema]):
                        model.objects.exclude(pk__in=before[key]).delete()
            except (ProtectedError, IntegrityError):
                blocked.append(key)
        left = blocked
        if not left:
            return
    raise AssertionError(f"rows the fault tests added could not be removed: {left}")


@pytest.fixture(scope="module", autouse=True)
def _leave_the_world_as_found(world, django_db_blocker):
    with django_db_blocker.unblock():
        before = committed(None, lambda: _rows(world))
    yield
    with django_db_blocker.unblock():
        committed(None, lambda: _remove_new_rows(world, before))
