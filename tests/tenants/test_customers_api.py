"""The operators' customers API on the public host: staff tokens and sessions only, everyone else 404."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_exists
from rest_framework.test import APIClient

from tenants.models import GB, Bucket, Quota, Tenant, User
from tenants.services.billing import DEFAULT_RATES
from tests.builders import make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api(world) -> APIClient:
    """The operator's token (bound to no tenant) on the public host."""
    client = APIClient(HTTP_HOST="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(world.operator, None)}")
    return client


def _new_customer(**overrides) -> dict:
    return {
        "name": "Sigma Genomics",
        "slug": "sigma",
        "owner_email": "owner@sigma.example",
        "cost_center": "CC-42",
        "max_concurrent_worksets": 12,
        "max_storage_gb": 500,
        "monthly_budget_usd": "2500.00",
        "budget_action": "hold",
        **overrides,
    }


def test_a_staff_token_onboards_a_customer_with_its_quota(staff_api):
    response = staff_api.post("/api/v1/customers", _new_customer(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "sigma" and body["host"] == "sigma.localhost" and body["status"] == "active"
    assert body["quota"] == {
        "max_concurrent_worksets": 12,
        "max_storage_gb": 500,
        "monthly_budget_usd": "2500.00",
        "budget_action": "hold",
        "billing_hold": False,
    }
    tenant = Tenant.objects.get(slug="sigma")
    assert schema_exists(tenant.schema_name)
    quota = Quota.objects.get(tenant=tenant)
    assert (quota.max_concurrent_worksets, quota.max_storage_gb) == (12, 500)
    assert quota.monthly_budget_usd == Decimal("2500.00") and quota.budget_action == "hold"
    bucket = Bucket.objects.get(tenant=tenant)
    assert body["bucket"]["name"] == bucket.name and body["bucket"]["managed"] is True
    assert bucket.cost_center == "CC-42"


def test_defaults_apply_when_the_operator_gives_no_quota(staff_api):
    response = staff_api.post(
        "/api/v1/customers",
        {"name": "Tau", "slug": "tau", "owner_email": "owner@tau.example"},
        format="json",
    )
    assert response.status_code == 201, response.content
    quota = Quota.objects.get(tenant__slug="tau")
    assert (quota.max_concurrent_worksets, quota.monthly_budget_usd, quota.budget_action) == (5, None, "warn")


def test_customers_are_listed_and_read_by_slug(staff_api, world):
    listing = staff_api.get("/api/v1/customers")
    assert listing.status_code == 200
    slugs = {row["slug"] for row in listing.json()["results"]}
    assert {"alpha", "beta"} <= slugs and "public" not in slugs
    detail = staff_api.get("/api/v1/customers/alpha")
    assert detail.status_code == 200
    body = detail.json()
    assert body["name"] == "Alpha" and body["host"] == "alpha.localhost"
    assert body["quota"]["max_storage_gb"] == Quota.objects.get(tenant=world.tenant).max_storage_gb
    assert staff_api.get("/api/v1/customers/no-such-customer").status_code == 404


def test_usage_reports_storage_against_the_quota_from_stored_figures(staff_api, world):
    Quota.objects.filter(tenant=world.tenant).update(max_storage_gb=200, monthly_budget_usd=Decimal("100"))
    measured = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    bucket, _ = Bucket.objects.get_or_create(
        tenant=world.tenant, defaults={"backend": "local", "name": "runyard-alpha-usage-test"}
    )
    Bucket.objects.filter(pk=bucket.pk).update(bytes_used=50 * GB, object_count=321, measured_at=measured)

    response = staff_api.get("/api/v1/customers/alpha/usage")
    assert response.status_code == 200, response.content
    usage = response.json()
    assert usage["storage_bytes"] == 50 * GB
    assert usage["storage_gb"] == 50.0
    assert usage["storage_quota_gb"] == 200
    assert usage["storage_utilisation_percent"] == 25.0  # 50 GB of 200 GB
    assert usage["object_count"] == 321
    assert usage["last_measured"].startswith("2025-03-01T06:00:00")
    assert usage["max_concurrent_worksets"] == Quota.objects.get(tenant=world.tenant).max_concurrent_worksets
    assert usage["monthly_budget_usd"] == "100.00"
    assert {"month", "month_to_date_usd", "spend_basis", "budget_utilisation_percent"} <= set(usage)


def test_usage_prices_this_months_ledger_from_the_draft_invoice(staff_api, world):
    from tenants.services.billing import ensure_default_rate_card
    from tenants.services.usage import record_usage

    ensure_default_rate_card()
    Quota.objects.filter(tenant=world.other).update(monthly_budget_usd=Decimal("8.00"))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    record_usage(
        world.other,
        "vcpu_hours",
        Decimal("100"),
        basis="estimated",
        source="test",
        dimension="normal",
        period_start=today,
        period_end=today + timedelta(hours=1),
    )
    usage = staff_api.get("/api/v1/customers/beta/usage").json()
    spent = 100 * DEFAULT_RATES["vcpu_hour_normal"]  # on the Standard card onboarding installs
    assert usage["month_to_date_usd"] == f"{spent:.2f}" == "4.00"
    assert usage["spend_basis"] == "estimated"
    assert usage["budget_utilisation_percent"] == "50.00"


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"max_concurrent_worksets": 0, "max_storage_gb": 50}, {"max_concurrent_worksets", "max_storage_gb"}),
        (
            {"max_concurrent_worksets": 51, "max_storage_gb": 20000},
            {"max_concurrent_worksets", "max_storage_gb"},
        ),
        ({"monthly_budget_usd": "-1", "budget_action": "panic"}, {"monthly_budget_usd", "budget_action"}),
        ({"slug": "alpha", "owner_email": "nope"}, {"slug", "owner_email"}),
        ({"slug": "Bad Slug", "name": ""}, {"slug", "name"}),
        ({"bucket": "Not_A_Bucket"}, {"bucket"}),
    ],
)
def test_bad_fields_answer_400_with_messages_and_write_nothing(staff_api, overrides, fields):
    tenants, users = Tenant.objects.count(), User.objects.count()
    response = staff_api.post(
        "/api/v1/customers", _new_customer(**{"slug": "upsilon", **overrides}), format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == fields
    assert all(messages and all(messages) for messages in error["fields"].values())
    assert (Tenant.objects.count(), User.objects.count()) == (tenants, users)
    assert not schema_exists("upsilon")


def test_range_messages_say_what_is_allowed(staff_api):
    response = staff_api.post(
        "/api/v1/customers", _new_customer(max_concurrent_worksets=99, max_storage_gb=1), format="json"
    )
    fields = response.json()["error"]["fields"]
    assert fields["max_concurrent_worksets"] == ["Choose between 1 and 50 worksets."]
    assert fields["max_storage_gb"] == ["Choose between 100 and 10,000 GB."]


def test_the_operator_session_works_too(operator_client):
    assert operator_client.get("/api/v1/customers/alpha").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v1/customers", "/api/v1/customers/alpha", "/api/v1/customers/alpha/usage"]
)
def test_customers_get_404_and_their_tokens_are_invalid_here(world, client, path):
    """Sessions of non-staff answer 404; tenant tokens are refused on any other host (401, as everywhere)."""
    client.force_login(world.alice, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(path, HTTP_HOST="localhost").status_code == 404
    assert client.post(path, _new_customer(), HTTP_HOST="localhost").status_code in (404, 405)
    tenant_token = APIClient(HTTP_HOST="localhost")
    tenant_token.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(world.alice, world.tenant)}")
    assert tenant_token.get(path).status_code == 401  # a tenant's token is not valid on the public host
    assert not Tenant.objects.filter(slug="sigma").exists()


def test_the_customers_api_is_not_served_on_tenant_hosts(api_for, world):
    assert api_for(world.alice).get("/api/v1/customers").status_code == 404


def test_the_old_tenants_endpoint_is_gone(operator_client):
    assert operator_client.get("/api/v1/tenants").status_code == 404
