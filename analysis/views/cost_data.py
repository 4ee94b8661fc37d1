"""Cost data pages at ``/costs/data/``: upload a file of jobs or rates and follow its ingest live, read an
ingest's report, see and set rates, see teams and set their budgets.

Every member reads; admins and owners upload, set rates and budgets (the forms are not drawn for the
others and their POSTs are refused). Writes go through ``analysis.services.costs``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from rest_framework.request import Request

from analysis.cost_forms import BudgetForm, CostUploadForm, RateForm
from analysis.cost_listing import LatestRatesFirst, NewestIngestsFirst, RateFilter
from analysis.models import CostIngest, RateSnapshot, Team
from analysis.services import costs as cost_services
from tenants.models import Role

PAGE_SIZE = 25


def get_ingest_for_user(request, code: str) -> CostIngest:
    return get_object_or_404(CostIngest.objects.visible_to(request.membership), code=code)


def _can_write(request) -> bool:
    return request.membership.allows(Role.ADMIN) and request.tenant.is_active


def _refuse_non_admins(request) -> None:
    if not _can_write(request):
        raise PermissionDenied("Only admins and owners change cost data.")


def _add_errors(form, error: ValidationError) -> None:
    for field, problems in getattr(error, "message_dict", {None: error.messages}).items():
        form.add_error(field if field in form.fields else None, problems)


def _page(request, queryset, paginator_class):
    paginator = paginator_class()
    paginator.page_size = PAGE_SIZE
    rows = paginator.paginate_queryset(queryset, Request(request))
    return rows, paginator.get_previous_link(), paginator.get_next_link()


def cost_data(request):
    form = CostUploadForm()
    if request.method == "POST":
        _refuse_non_admins(request)
        form = CostUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                ingest = cost_services.start_cost_ingest(
                    form.cleaned_data["file"], kind=form.cleaned_data["kind"], actor=request.user
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, f"{ingest.filename} uploaded: it is being ingested.")
                return redirect("cost_ingest", code=ingest.code)
    queryset = CostIngest.objects.visible_to(request.membership).select_related("created_by")
    ingests, previous_page, next_page = _page(request, queryset, NewestIngestsFirst)
    context = {
        "form": form,
        "ingests": ingests,
        "previous_page": previous_page,
        "next_page": next_page,
        "can_write": _can_write(request),
    }
    return render(request, "analysis/costs/data.html", context, status=400 if form.errors else 200)


def cost_ingest(request, code: str):
    ingest = get_ingest_for_user(request, code)
    return render(request, "analysis/costs/ingest.html", {"ingest": ingest, "counts": _count_rows(ingest)})


def _count_rows(ingest: CostIngest) -> list[dict]:
    labels = {"teams": "Teams", "jobs": "Jobs", "rates": "Rates"}
    return [
        {
            "label": labels.get(kind, kind),
            **{key: counts.get(key, 0) for key in ("inserted", "updated", "unchanged")},
            "created_for_jobs": counts.get("created_for_jobs", 0),
        }
        for kind, counts in sorted((ingest.counts or {}).items())
    ]


def cost_rates(request):
    form = RateForm()
    if request.method == "POST":
        _refuse_non_admins(request)
        if request.POST.get("action") == "delete":
            return _delete_rate(request)
        form = RateForm(request.POST)
        if form.is_valid():
            try:
                rate = cost_services.set_rate(**form.cleaned_data, actor=request.user)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, f"Rate set: {rate}.")
                return redirect("cost_rates")
    queryset = RateSnapshot.objects.visible_to(request.membership).select_related("updated_by")
    filters = RateFilter(request.GET or None, queryset=queryset)
    rates, previous_page, next_page = _page(
        request, filters.qs if filters.is_valid() else queryset, LatestRatesFirst
    )
    context = {
        "form": form,
        "filters": filters,
        "rates": rates,
        "previous_page": previous_page,
        "next_page": next_page,
        "can_write": _can_write(request),
    }
    return render(request, "analysis/costs/rates.html", context, status=400 if form.errors else 200)


def _delete_rate(request):
    data = request.POST
    try:
        cost_services.delete_rate(
            data.get("day"), data.get("provider"), data.get("gpu_type"), actor=request.user
        )
    except (ValidationError, RateSnapshot.DoesNotExist):
        messages.error(request, "No such rate.")
    else:
        messages.success(request, "Rate deleted: its GPU-hours are unpriced until a new rate is set.")
    return redirect("cost_rates")


def cost_teams(request):
    problems: dict[str, list[str]] = {}
    if request.method == "POST":
        _refuse_non_admins(request)
        team = get_object_or_404(
            Team.objects.visible_to(request.membership), name=request.POST.get("name", "")
        )
        form = BudgetForm(request.POST)
        if form.is_valid():
            cost_services.set_team_budget(team, form.cleaned_data["budget_usd"], actor=request.user)
            messages.success(request, f"Budget of {team.name} saved.")
            return redirect("cost_teams")
        problems[team.name] = [e for errors in form.errors.values() for e in errors]
    rows = [
        {"team": team, "problems": problems.get(team.name, [])}
        for team in Team.objects.visible_to(request.membership).order_by("name")
    ]
    context = {"rows": rows, "can_write": _can_write(request)}
    return render(request, "analysis/costs/teams.html", context, status=400 if problems else 200)
