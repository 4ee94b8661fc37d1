import pytest
from django.contrib import admin

pytestmark = pytest.mark.django_db


def test_every_admin_list_and_add_page_renders_for_operators(operator_client):
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert operator_client.get(base).status_code == 200, base
        assert operator_client.get(base + "add/").status_code in (200, 403), base  # 403: add is disabled


def test_operators_suspend_a_tenant_with_the_admin_action(operator_client, world):
    from tenants.models import AuditEvent, Tenant

    response = operator_client.post(
        "/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [world.other.pk]}
    )
    assert response.status_code == 302
    assert Tenant.objects.get(pk=world.other.pk).status == "suspended"
    assert AuditEvent.objects.filter(action="tenant.suspended", actor=world.operator).exists()


def test_customers_cannot_use_the_admin(client, world):
    client.force_login(world.alice, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/admin/tenants/tenant/", HTTP_HOST="localhost")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
