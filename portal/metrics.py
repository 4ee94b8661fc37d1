"""Prometheus metrics at ``/metrics``: django-prometheus's request metrics, the histograms observed where
the work happens (dispatch, profile parsing, chat answers), and Runyard's figures read from the stored
data at scrape time (worksets by state, dead letters, retries, queue age, spend, storage, AI tokens), one
series per tenant: tenants are few, so the label stays cheap.

The stored figures are exact whichever process answers. Histograms live in the process that observed
them: daphne observes chat answers, Celery workers dispatch and parse. With ``PROMETHEUS_MULTIPROC_DIR``
set (one empty directory per host, shared by daphne and the workers, emptied at each start) every process
writes its samples there and ``/metrics`` adds them up; without it a scrape sees only the answering
process's histograms.
"""

from __future__ import annotations

import os
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from portal.rest import error_body

SECONDS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600)

DISPATCH_LATENCY = Histogram(
    "runyard_dispatch_latency_seconds",
    "From a workset's entry into the queue to its dispatch onto a cluster.",
    ["tenant", "cluster"],
    buckets=SECONDS,
)
PARSE_DURATION = Histogram(
    "runyard_profile_parse_seconds",
    "Parsing one attempt of a profile, from claim to stored tables (or failure).",
    ["tenant", "outcome"],
    buckets=SECONDS,
)
CHAT_ANSWER_LATENCY = Histogram(
    "runyard_chat_answer_seconds",
    "Answering one chat question, from the start of the answer to the stored reply.",
    ["tenant", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)


def tenant_label(tenant) -> str:
    return getattr(tenant, "slug", "") or "-"


def observe_dispatch(tenant, cluster: str, waited_seconds: float) -> None:
    DISPATCH_LATENCY.labels(tenant_label(tenant), cluster).observe(max(0.0, waited_seconds))


def since(moment: datetime | None) -> float:
    return max(0.0, (timezone.now() - moment).total_seconds()) if moment else 0.0


class RunyardCollector:
    """Runyard's own figures, computed from the database at each scrape."""

    def describe(self):
        return []  # no database access when the collector is registered

    def collect(self):
        families = {
            name: GaugeMetricFamily(f"runyard_{name}", help_text, labels=labels)
            for name, (help_text, labels) in FAMILIES.items()
        }
        for figures in tenant_figures():
            for name, labels, value in figures:
                families[name].add_metric(labels, value)
        yield from families.values()


FAMILIES = {
    "worksets": ("Worksets by state.", ["tenant", "state"]),
    "workset_retries": ("Worksets that are retries of an earlier run (attempt > 1).", ["tenant"]),
    "dead_letters": ("Worksets in the dead-letter queue.", ["tenant"]),
    "queue_entries": ("Worksets waiting in the dispatch queue (queued or waiting to retry).", ["tenant"]),
    "queue_oldest_age_seconds": ("Age of the oldest queued workset (0: none queued).", ["tenant"]),
    "spend_usd": ("Spend this month to date, priced like the usage page.", ["tenant"]),
    "budget_usd": ("Monthly budget (absent: no budget set).", ["tenant"]),
    "storage_bytes": ("Bytes stored in the tenant's bucket (last measurement).", ["tenant"]),
    "storage_quota_bytes": ("The tenant's storage quota.", ["tenant"]),
    "ai_tokens_month": ("AI tokens booked this month (chat answers).", ["tenant"]),
}


def tenant_figures():
    """Per customer tenant: (family, labels, value) lists. A fixed number of public queries for all
    tenants, then one schema switch and two aggregates per tenant, plus the overview's spend and storage."""
    from jobs.catalog.models import QueueEntry
    from tenants.models import Tenant
    from tenants.services.overview import tenant_health

    tenants = list(Tenant.objects.customers().order_by("slug"))
    queue = _queue_figures(QueueEntry)
    tokens = _tokens_this_month([t.pk for t in tenants])
    health = {
        row.tenant.pk: row for row in tenant_health(Tenant.objects.filter(pk__in=[t.pk for t in tenants]))
    }
    for tenant in tenants:
        yield _figures_of(tenant, queue.get(tenant.pk, {}), tokens.get(tenant.pk, 0), health.get(tenant.pk))


def _figures_of(tenant, queue: dict, tokens, health) -> list[tuple[str, list[str], float]]:
    from django_tenants.utils import tenant_context

    from jobs.models import State, Workset

    label = tenant_label(tenant)
    with tenant_context(tenant):
        by_state = dict(Workset.objects.order_by().values_list("state").annotate(n=Count("id")))
        retries = Workset.objects.filter(attempt__gt=1).count()
    samples = [("worksets", [label, state.value], by_state.get(state.value, 0)) for state in State]
    samples += [
        ("workset_retries", [label], retries),
        ("dead_letters", [label], queue.get("dead_letter", 0)),
        ("queue_entries", [label], queue.get("queued", 0) + queue.get("retry_wait", 0)),
        ("queue_oldest_age_seconds", [label], since(queue.get("oldest"))),
        ("ai_tokens_month", [label], float(tokens)),
    ]
    if health is not None:
        samples += [
            ("spend_usd", [label], float(health.spent_usd)),
            ("storage_bytes", [label], health.storage_bytes),
            ("storage_quota_bytes", [label], health.storage_quota_bytes),
        ]
        if health.budget_usd:
            samples.append(("budget_usd", [label], float(health.budget_usd)))
    return samples


def _queue_figures(QueueEntry) -> dict[int, dict]:
    rows = (
        QueueEntry.objects.order_by()
        .values("tenant_id", "status")
        .annotate(n=Count("id"), oldest=Min("queued_at"))
    )
    figures: dict[int, dict] = {}
    for row in rows:
        tenant = figures.setdefault(row["tenant_id"], {})
        tenant[row["status"]] = row["n"]
        if row["status"] == QueueEntry.Status.QUEUED:
            tenant["oldest"] = row["oldest"]
    return figures


def _tokens_this_month(tenant_ids: list[int]) -> dict[int, float]:
    from tenants.models import UsageRecord

    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    records = UsageRecord.objects.billable().filter(
        tenant_id__in=tenant_ids, kind=UsageRecord.Kind.AI_TOKENS, period_start__gte=start
    )
    return dict(
        records.order_by()
        .values("tenant_id")
        .annotate(total=Sum("quantity"))
        .values_list("tenant_id", "total")
    )


_collector = RunyardCollector()
REGISTRY.register(_collector)


def registry() -> CollectorRegistry:
    """The default registry, or in multi-process mode the samples of every process plus Runyard's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    combined.register(_collector)
    return combined


def metrics_view(request):
    """Answers only a scraper that sends ``Authorization: Bearer <METRICS_TOKEN>``; without a configured
    token the endpoint does not exist (404)."""
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not constant_time_compare(supplied.strip(), token):
        response = JsonResponse(
            error_body("not_authenticated", "A valid metrics token is required."), status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
