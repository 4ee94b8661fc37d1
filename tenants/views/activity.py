"""The Activity page: the tenant's audit trail, for owners and admins (to anyone else it does not exist)."""

from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from rest_framework.request import Request

from tenants.activity import ActivityFilter, NewestFirst, csv_response, listed
from tenants.models import AuditEvent, Membership, Role

PAGE_SIZE = 50


def _require_activity_role(request) -> None:
    if not request.membership.allows(Role.ADMIN):
        raise Http404


def _filtered(request) -> ActivityFilter:
    return ActivityFilter(request.GET, queryset=AuditEvent.objects.of_tenant(request.tenant))


def activity(request):
    _require_activity_role(request)
    filters = _filtered(request)
    valid = filters.is_valid()
    rows = listed(filters.qs if valid else filters.queryset.none())
    paginator = NewestFirst()
    paginator.page_size = PAGE_SIZE
    page = paginator.paginate_queryset(rows, Request(request))
    context = {
        "filters": filters,
        "events": page,
        "next_page": paginator.get_next_link(),
        "previous_page": paginator.get_previous_link(),
        "filtered": any(request.GET.get(name) for name in filters.filters),
        "people": Membership.objects.filter(tenant=request.tenant)
        .order_by("user__email")
        .values_list("user__email", flat=True),
        "export_query": _without_cursor(request.GET),
    }
    return render(request, "tenants/activity.html", context)


def activity_csv(request):
    """The filtered set, every page of it."""
    _require_activity_role(request)
    filters = _filtered(request)
    if not filters.is_valid():
        errors = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in filters.errors.items())
        return HttpResponseBadRequest(f"Filters not valid: {errors}", content_type="text/plain")
    name = f"runyard-{request.tenant.slug}-activity-{timezone.now():%Y%m%d-%H%M}.csv"
    return csv_response(filters.qs, name)


def _without_cursor(params) -> str:
    """The export link's query: the filters in use (the form sends empty ones too), not the page."""
    kept = params.copy()
    for name in list(kept):
        if name == "cursor" or not any(kept.getlist(name)):
            kept.pop(name)
    return kept.urlencode()
