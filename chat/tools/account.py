"""The tenant's account for the assistant: a month's usage and cost, quotas, an invoice (admins and
owners), a file search in the tenant's bucket, and an ISS job. The same services as ``/api/v1/usage``,
``/api/v1/invoices``, ``/api/v1/files`` and ``/api/v1/iss/jobs/<id>``."""

from __future__ import annotations

import json
from collections import deque
from datetime import date

from django.core.serializers.json import DjangoJSONEncoder

from analysis.iss.client import IssError, IssNotFound
from analysis.iss.connections import connection_for, iss_client_for
from analysis.iss.listing import failure_of
from chat.tools.base import MAX_ITEMS, ToolContext, ToolError, ToolResult, link, tool
from jobs.models import Workset
from tenants.api.billing import InvoiceDetailSerializer, UsageSummarySerializer
from tenants.models import Invoice
from tenants.services.billing import current_draft
from tenants.services.customers import customer_usage
from tenants.services.files import folder_key, storage_of
from tenants.services.usage_summary import month_summary
from tenants.storage.base import StorageError

MONTH = {
    "type": ["string", "null"],
    "pattern": r"^\d{4}-\d{2}$",
    "description": "YYYY-MM; default: this month.",
}
# A search walks the bucket folder by folder: at most this many listings and objects looked at.
SEARCH_LISTINGS = 50
SEARCH_OBJECTS = 20_000


def plain(data):
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def month_of(ctx: ToolContext, given: str | None) -> date:
    if not given:
        return ctx.today.replace(day=1)
    year, month = (int(part) for part in given.split("-"))
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise ToolError(f"month: {given!r} is not a month; use YYYY-MM, e.g. {ctx.today:%Y-%m}.")
    return date(year, month, 1)


def money(value) -> str:
    return "—" if value is None else f"${value:,.2f}"


@tool(
    "usage_summary",
    "A month's usage of Runyard and what it costs, by category (storage, compute, transfer…), each "
    "measured or estimated.",
    {"properties": {"month": MONTH}},
)
def usage_summary(ctx: ToolContext, month=None):
    summary = month_summary(ctx.tenant, month_of(ctx, month))
    data = plain(
        UsageSummarySerializer(
            {
                "month": f"{summary.month:%Y-%m}",
                "currency": "USD",
                "total": summary.total,
                "invoiced": summary.issued,
                "pricing_error": summary.pricing_error,
                "categories": summary.categories,
            }
        ).data
    )
    state = "invoiced" if summary.issued else "so far"
    lines = [f"Usage of {summary.month:%B %Y} ({state}): **{money(summary.total)}**."]
    lines += [
        f"- {c.label}: {c.quantity.normalize():f} {c.unit}, {money(c.cost)} ({c.basis})"
        for c in summary.categories
    ]
    if summary.pricing_error:
        lines.append(f"Some costs are missing: {summary.pricing_error}")
    return ToolResult("usage_summary", {}, data, "\n".join(lines), (link("Usage", "usage"),))


@tool(
    "quota_status",
    "Storage used against the quota, the concurrent-workset limit and this month's budget.",
    {},
)
def quota_status(ctx: ToolContext):
    usage = plain(customer_usage(ctx.tenant, ctx.today))
    active = Workset.objects.visible_to(ctx.membership).active().count()
    data = {**usage, "active_worksets": active}
    storage = usage["storage_utilisation_percent"]
    lines = [
        f"Storage: {usage['storage_gb']:,} GB of {usage['storage_quota_gb']} GB"
        + (f" ({storage} %)" if storage is not None else "")
        + f", {usage['object_count']} objects (last measured {usage['last_measured'] or 'never'}).",
        f"Worksets: {active} active, at most {usage['max_concurrent_worksets']} run at once.",
        f"Budget: {money(_number(usage['month_to_date_usd']))} spent this month "
        f"({usage['spend_basis'] or 'no usage'})"
        + (
            f" of {money(_number(usage['monthly_budget_usd']))}"
            if usage["monthly_budget_usd"] is not None
            else ", no monthly budget set"
        )
        + (
            f" ({usage['budget_utilisation_percent']} %)"
            if usage["budget_utilisation_percent"] is not None
            else ""
        )
        + f"; when it is spent: {usage['budget_action']}"
        + (" — new submissions are on billing hold." if usage["billing_hold"] else "."),
    ]
    if usage["pricing_error"]:
        lines.append(f"Spend is incomplete: {usage['pricing_error']}")
    return ToolResult("quota_status", {}, data, "\n".join(lines), (link("Usage", "usage"),))


@tool(
    "invoice",
    "A month's invoice with its lines (admins and owners only); this month's is a draft with today's "
    "figures.",
    {"properties": {"month": MONTH}},
    min_role="admin",
)
def invoice(ctx: ToolContext, month=None):
    first = month_of(ctx, month)
    found = current_draft(ctx.tenant, first) if first >= ctx.today.replace(day=1) else None
    found = (
        found or Invoice.objects.filter(tenant=ctx.tenant, month=first).select_related("rate_card").first()
    )
    if found is None:
        raise ToolError(
            f"There is no invoice for {first:%B %Y} (a price may be missing, or nothing was used)."
        )
    found = Invoice.objects.select_related("rate_card").prefetch_related("lines").get(pk=found.pk)
    data = plain(InvoiceDetailSerializer(found).data)
    lines = [
        f"Invoice of {first:%B %Y} ({found.status}, rate card {found.rate_card.name}): "
        f"**{money(found.total)}**."
    ]
    lines += [
        f"- {line.description}: {line.quantity.normalize():f} {line.unit} × ${line.unit_price} = "
        f"{money(line.amount)} ({line.basis})"
        for line in list(found.lines.all())[:20]
    ]
    return ToolResult("invoice", {}, data, "\n".join(lines), (link("Invoice", "invoice", code=found.code),))


@tool(
    "search_files",
    "Files in the tenant's bucket whose name contains the query, under an optional folder (a bounded walk).",
    {
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": 200},
            "prefix": {"type": "string", "maxLength": 1000, "default": ""},
        },
        "required": ["query"],
    },
)
def search_files(ctx: ToolContext, query: str, prefix: str = ""):
    try:
        start = folder_key(prefix)
    except Exception as error:  # noqa: BLE001 - the key checks raise Django or DRF validation errors
        raise ToolError(f"prefix: {' '.join(getattr(error, 'messages', [str(error)]))}") from error
    try:
        found, complete = _walk(storage_of(ctx.tenant), start, query.lower())
    except StorageError as error:
        raise ToolError(f"The bucket could not be read just now ({error}); try again shortly.") from error
    files = [
        {"key": info.key, "size": info.size, "modified": info.modified.isoformat()}
        for info in found[:MAX_ITEMS]
    ]
    truncated = not complete or len(found) > MAX_ITEMS
    where = f" under {start}" if start else ""
    lines = [f"{len(files)}{'+' if truncated else ''} files{where} whose name contains “{query}”:"]
    lines += [f"- `{f['key']}` ({f['size']:,} bytes)" for f in files[:20]]
    if not files:
        lines = [
            f"No file{where} has “{query}” in its name"
            + ("" if complete else " (in the part searched)")
            + "."
        ]
    if not complete:
        lines.append("The bucket is large: only part of it was searched; give a folder to narrow it down.")
    folders = sorted({f["key"].rsplit("/", 1)[0] + "/" for f in files if "/" in f["key"]})[:5]
    links = (
        link("Files", "files", query={"prefix": start}),
        *[link(p, "files", query={"prefix": p}) for p in folders],
    )
    return ToolResult(
        "search_files",
        {},
        {"prefix": start, "query": query, "files": files},
        "\n".join(lines),
        links,
        truncated,
    )


def _walk(storage, start: str, needle: str):
    """Matching objects, breadth first; (matches, whether the whole subtree was read)."""
    found, queue, listings, seen = [], deque([(start, None)]), 0, 0
    while queue and listings < SEARCH_LISTINGS and seen < SEARCH_OBJECTS and len(found) <= MAX_ITEMS:
        prefix, token = queue.popleft()
        page = storage.list(prefix, token=token, limit=1000)
        listings += 1
        seen += len(page.objects)
        found += [
            info
            for info in page.objects
            if not info.key.endswith("/") and needle in info.key.rsplit("/", 1)[-1].lower()
        ]
        if page.next_token:
            queue.appendleft((prefix, page.next_token))
        queue.extend((folder, None) for folder in page.folders if folder != prefix)
    return found, not queue


@tool(
    "iss_job",
    "One job of the tenant's ISS (Intel Simulation Service) and its artifact files, when ISS is configured.",
    {"properties": {"job_id": {"type": "string", "minLength": 1, "maxLength": 200}}, "required": ["job_id"]},
)
def iss_job(ctx: ToolContext, job_id: str):
    if connection_for(ctx.tenant) is None:
        raise ToolError(f"No ISS connection is configured for {ctx.tenant.name}; an operator sets it up.")
    try:
        client = iss_client_for(ctx.tenant)
        job = client.get_job(job_id)
        try:
            files = client.list_files(job_id, str(job.get("Type") or ""))
        except IssNotFound:
            files = []
    except IssError as error:
        raise ToolError(failure_of(error).message) from error
    listed = [{"name": file.name, "size": file.size} for file in files]
    data = {"job": plain(job), "files": listed}
    fields = ", ".join(
        f"{key} {job[key]}" for key in ("Type", "Status", "Queue", "RequestedBy") if job.get(key)
    )
    lines = [f"ISS job `{job_id}`: {fields or 'no details'}; {len(listed)} artifact files."]
    lines += [f"- {f['name']} ({f['size']:,} bytes)" for f in listed[:10]]
    return ToolResult(
        "iss_job", {}, data, "\n".join(lines), (link(f"ISS job {job_id}", "iss_job", job_id=job_id),)
    )


def _number(value):
    return None if value is None else float(value)
