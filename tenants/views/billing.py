"""Usage (every member) and billing (owners and admins; everyone else gets 404) pages."""

import csv

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from tenants.models import GB, Bucket, Invoice, InvoiceLine, Role
from tenants.services.billing import CATEGORY_LABELS, CATEGORY_ORDER, current_draft, previous_month
from tenants.services.budgets import spent_share
from tenants.services.quotas import quota_of
from tenants.services.usage_summary import month_summary

CSV_HEADER = InvoiceLine.SHOWN_FIELDS


def usage(request):
    this_month = timezone.now().date().replace(day=1)
    current = month_summary(request.tenant, this_month, with_daily=True)
    last = month_summary(request.tenant, previous_month(this_month))
    context = {
        "current": current,
        "last": last,
        "comparison": _comparison(current, last),
        "days_with_usage": [(day, cost) for day, cost in current.daily if cost],
        "quota": _quota_figures(request.tenant, current.total),
        "chart_data": _chart_data(current, last),
    }
    return render(request, "tenants/usage.html", context)


def _comparison(current, last) -> list[dict]:
    present = {c.category for c in current.categories} | {c.category for c in last.categories}
    return [
        {"label": CATEGORY_LABELS[name], "last": last.cost_of(name), "current": current.cost_of(name)}
        for name in CATEGORY_ORDER
        if name in present
    ]


def _quota_figures(tenant, spent) -> dict:
    quota = quota_of(tenant)
    used = Bucket.objects.filter(tenant=tenant).values_list("bytes_used", flat=True).first() or 0
    return {
        "quota": quota,
        "storage_used_gb": used / GB,
        "storage_share": min(round(used * 100 / (quota.max_storage_gb * GB)), 100),
        "budget_share": spent_share(spent, quota.monthly_budget_usd),
    }


def _chart_data(current, last) -> dict:
    """Numbers as strings: JSON floats would blur cents; the script turns them into numbers itself."""
    comparison = _comparison(current, last)
    return {
        "daily": {
            "labels": [f"{day:%d}" for day, _ in current.daily],
            "values": [str(cost) for _, cost in current.daily],
        },
        "categories": {
            "labels": [c.label for c in current.categories],
            "values": [str(c.cost) for c in current.categories],
        },
        "comparison": {
            "labels": [row["label"] for row in comparison],
            "series": [
                {"label": f"{last.month:%B}", "values": [str(row["last"]) for row in comparison]},
                {"label": f"{current.month:%B}", "values": [str(row["current"]) for row in comparison]},
            ],
        },
    }


def _require_billing_role(request) -> None:
    """Invoices are for owners and admins; to anyone else they do not exist."""
    if not request.membership.allows(Role.ADMIN):
        raise Http404


def get_invoice_for_user(request, code) -> Invoice:
    invoices = Invoice.objects.visible_to(request.membership).select_related("rate_card")
    invoice = get_object_or_404(invoices, code=code)
    if invoice.status == Invoice.Status.DRAFT:
        invoice = current_draft(invoice.tenant, invoice.month) or invoice
    return invoice


def invoices(request):
    _require_billing_role(request)
    pricing_ok = current_draft(request.tenant, timezone.now().date()) is not None
    rows = Invoice.objects.visible_to(request.membership)
    return render(request, "tenants/invoices.html", {"invoices": rows, "pricing_ok": pricing_ok})


def invoice(request, code):
    item = get_invoice_for_user(request, code)
    return render(request, "tenants/invoice.html", {"invoice": item, "lines": item.lines.all()})


def invoice_csv(request, code):
    item = get_invoice_for_user(request, code)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"runyard-{request.tenant.slug}-{item.month:%Y-%m}-{item.status}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for line in item.lines.all():
        writer.writerow([getattr(line, column) for column in CSV_HEADER])
    writer.writerow(["", "total", "", "", "", "", "", item.total, ""])
    return response
