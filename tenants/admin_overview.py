"""The operators' overview (/admin/overview/ on the public host): every tenant's health in one table,
sortable by each column with ``?o=<column>`` (``?o=-<column>`` for descending)."""

from urllib.parse import urlencode

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse

from tenants.services.overview import TenantHealth, tenant_health
from tenants.services.quotas import format_bytes

# column key -> (heading, sort value). A missing value (no budget, nothing finished) sorts last both ways.
COLUMNS = {
    "tenant": ("Tenant", lambda h: h.tenant.slug),
    "running": ("Running", lambda h: h.running),
    "queued": ("Queued", lambda h: h.queued),
    "failed": ("Failed", lambda h: h.failed),
    "dead_lettered": ("Dead-lettered", lambda h: h.dead_lettered),
    "spend": ("Spend vs budget", lambda h: h.budget_share),
    "storage": ("Storage vs quota", lambda h: h.storage_share),
    "error_rate": ("Error rate (7 days)", lambda h: h.error_rate),
    "last_activity": ("Last activity", lambda h: h.last_activity),
}
DEFAULT_ORDER = "tenant"


def overview_view(request):
    order = request.GET.get("o", DEFAULT_ORDER)
    key = order.removeprefix("-")
    if key not in COLUMNS:
        order = key = DEFAULT_ORDER
    rows = sort_rows(tenant_health(), key, descending=order.startswith("-"))
    context = {
        **admin.site.each_context(request),
        "title": "Operator overview",
        "headings": [_heading(name, order) for name in COLUMNS],
        "rows": [_display(row) for row in rows],
    }
    return TemplateResponse(request, "admin/overview.html", context)


def sort_rows(rows: list[TenantHealth], key: str, *, descending: bool) -> list[TenantHealth]:
    value = COLUMNS[key][1]
    present = [row for row in rows if value(row) is not None]
    missing = [row for row in rows if value(row) is None]
    present.sort(key=lambda row: (value(row), row.tenant.slug), reverse=descending)
    return present + missing


def _heading(name: str, order: str) -> dict:
    """The link sorts by the column ascending, or flips the direction when it is the current column."""
    current = order.removeprefix("-") == name
    descending = order.startswith("-")
    target = name if (not current or descending) else f"-{name}"
    arrow = ("▼" if descending else "▲") if current else ""
    return {"key": name, "label": COLUMNS[name][0], "url": "?" + urlencode({"o": target}), "arrow": arrow}


def _display(row: TenantHealth) -> dict:
    tenant_filter = f"?tenant__id__exact={row.tenant.pk}"
    return {
        "health": row,
        "spend": _spend(row),
        "storage": f"{format_bytes(row.storage_bytes)} of {format_bytes(row.storage_quota_bytes)}"
        f" ({row.storage_share:.0%})",
        "error_rate": "—"
        if row.error_rate is None
        else f"{row.error_rate:.0%} ({row.failed_recently} of {row.finished_recently})",
        "links": {
            "tenant": reverse("admin:tenants_tenant_change", args=[row.tenant.pk]),
            "queue": reverse("admin:catalog_queueentry_changelist") + tenant_filter,
            "dead_letters": reverse("admin:catalog_deadletter_changelist") + tenant_filter,
            "usage": reverse("admin:tenants_usagerecord_changelist") + tenant_filter,
            "audit": reverse("admin:tenants_auditevent_changelist") + tenant_filter,
        },
    }


def _spend(row: TenantHealth) -> str:
    if row.pricing_error:
        return row.pricing_error
    spent = f"${row.spent_usd:,.2f}"
    if row.budget_usd is None:
        return f"{spent} (no budget)"
    return f"{spent} of ${row.budget_usd:,.2f} ({row.budget_share:.0%})"
