"""/metrics: the token, Runyard's figures from stored data, the observed histograms, multi-process mode."""

import os
from decimal import Decimal

import pytest
from django.test import Client, override_settings
from django_tenants.utils import tenant_context
from prometheus_client.parser import text_string_to_metric_families

from tests.builders import make_workset

TOKEN = "scrape-token-0123456789abcdef"
SCRAPE = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def scrape(**headers) -> dict[tuple[str, tuple], float]:
    with override_settings(METRICS_TOKEN=TOKEN):
        response = Client().get("/metrics", HTTP_HOST="localhost", **(headers or SCRAPE))
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


# --- /metrics ---


def test_metrics_do_not_exist_without_a_configured_token(client, db):
    with override_settings(METRICS_TOKEN=""):
        response = Client().get("/metrics", HTTP_HOST="localhost", **SCRAPE)
    assert response.status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_metrics_refuse_a_missing_or_wrong_token(db, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    with override_settings(METRICS_TOKEN=TOKEN):
        response = Client().get("/metrics", HTTP_HOST="localhost", **headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert b"runyard_" not in response.content


def test_a_tenant_api_token_does_not_open_the_metrics(api_for, world):
    with override_settings(METRICS_TOKEN=TOKEN):
        response = api_for(world.mallory, world.other).get("/metrics")
    assert response.status_code == 401


def test_metrics_count_worksets_by_state_per_tenant_from_stored_data(db, world):
    from jobs.models import Workset

    before = scrape()
    make_workset(world.tenant)
    make_workset(world.tenant)
    make_workset(world.tenant, state="dead_letter")
    after = scrape()

    assert value(after, "runyard_worksets", tenant="alpha", state="queued") == (
        value(before, "runyard_worksets", tenant="alpha", state="queued") + 2
    )
    with tenant_context(world.tenant):
        assert value(after, "runyard_worksets", tenant="alpha", state="queued") == (
            Workset.objects.filter(state="queued").count()
        )
    assert value(after, "runyard_worksets", tenant="beta", state="queued") == value(
        before, "runyard_worksets", tenant="beta", state="queued"
    )
    assert value(after, "runyard_dead_letters", tenant="alpha") == (
        value(before, "runyard_dead_letters", tenant="alpha") + 1
    )
    assert value(after, "runyard_queue_entries", tenant="alpha") == (
        value(before, "runyard_queue_entries", tenant="alpha") + 2
    )
    assert value(after, "runyard_queue_oldest_age_seconds", tenant="alpha") >= 0


def test_metrics_show_storage_against_quota_and_budget(db, world):
    from tenants.models import GB, Bucket
    from tenants.services.quotas import quota_of

    quota = quota_of(world.tenant)
    quota.max_storage_gb, quota.monthly_budget_usd = 7, Decimal("250.00")
    quota.save()
    Bucket.objects.filter(tenant=world.tenant).update(bytes_used=3 * GB + 5)

    samples = scrape()
    assert value(samples, "runyard_storage_bytes", tenant="alpha") == 3 * GB + 5
    assert value(samples, "runyard_storage_quota_bytes", tenant="alpha") == 7 * GB
    assert value(samples, "runyard_budget_usd", tenant="alpha") == 250.0
    assert value(samples, "runyard_spend_usd", tenant="alpha") is not None


def test_metrics_include_the_request_metrics_and_the_observed_histograms(db):
    Client().get("/signup/", HTTP_HOST="localhost")  # through every middleware, django-prometheus's too
    samples = scrape()
    names = {name for name, _ in samples}
    assert "django_http_requests_total_by_method_total" in names
    families = {f.name for f in text_string_to_metric_families(_raw_scrape())}
    assert {
        "runyard_dispatch_latency_seconds",
        "runyard_profile_parse_seconds",
        "runyard_chat_answer_seconds",
    } <= families


def _raw_scrape() -> str:
    with override_settings(METRICS_TOKEN=TOKEN):
        return Client().get("/metrics", HTTP_HOST="localhost", **SCRAPE).content.decode()


def test_the_dispatcher_observes_each_dispatch_after_commit(db, world, django_capture_on_commit_callbacks):
    from jobs.catalog.models import Cluster
    from jobs.dispatch import dispatch
    from portal.metrics import observe_dispatch

    Cluster.objects.create(name="obs-1", backend="local", region="us-east-1", usd_per_vcpu_hour="0.05")
    make_workset(world.tenant)
    labels = {"tenant": "alpha", "cluster": "obs-1"}
    before = value(scrape(), "runyard_dispatch_latency_seconds_count", **labels) or 0
    with django_capture_on_commit_callbacks() as callbacks:
        report = dispatch()
    placed_here = [p for p in report.placed if p[2] == "obs-1" and p[0] == world.tenant.schema_name]
    assert placed_here
    assert (value(scrape(), "runyard_dispatch_latency_seconds_count", **labels) or 0) == before  # not yet
    for callback in callbacks:  # the start of the run is not this test's concern: only the observations
        if getattr(callback, "func", None) is observe_dispatch:
            callback()
    assert value(scrape(), "runyard_dispatch_latency_seconds_count", **labels) == before + len(placed_here)


def test_in_multi_process_mode_a_scrape_adds_up_what_other_processes_observed(
    db, world, tmp_path, monkeypatch
):
    """A worker process observes a chat answer; the answering process's /metrics includes it."""
    import subprocess
    import sys

    child = (
        "import django; django.setup()\n"
        "from portal.metrics import CHAT_ANSWER_LATENCY\n"
        "CHAT_ANSWER_LATENCY.labels('alpha', 'ok').observe(2.0)\n"
    )
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", child], env=environment, check=True, timeout=120)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape()
    assert value(samples, "runyard_chat_answer_seconds_count", tenant="alpha", outcome="ok") == 1
    assert value(samples, "runyard_chat_answer_seconds_sum", tenant="alpha", outcome="ok") == 2.0
    assert value(samples, "runyard_worksets", tenant="alpha", state="queued") is not None
