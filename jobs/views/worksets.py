"""Workset pages: the list, "New workset" (form, uploaded file or bucket prefix) and the detail page.

Every member reads; members submit and move worksets; owners approve held ones. The services check roles
too, so a crafted POST gets no further than the buttons a role is shown.
"""

import json
import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.request import Request

from analysis.models import Profile
from jobs import services
from jobs.backends.base import SUCCEEDED
from jobs.catalog.models import Pipeline
from jobs.execution import diagnosis_report
from jobs.forms import BLANK_ROWS, WorksetForm, initial_from, rows_of, sample_rows, samples_of
from jobs.listing import NewestFirst, WorksetFilter
from jobs.models import CANCELLABLE, RETRYABLE, IllegalTransition, State, Workset
from jobs.validation import validate_workset
from jobs.views.sources import document_from_upload, rows_from_prefix
from tenants.models import Role

PAGE_SIZE = 25
ACTIONS = {
    "submit": services.submit_workset,
    "cancel": services.cancel_workset,
    "retry": services.retry_workset,
    "archive": services.archive_workset,
    "restore": services.restore_workset,
    "approve": services.approve_workset,
}


def get_workset_for_user(request, code) -> Workset:
    return get_object_or_404(Workset.objects.visible_to(request.membership), code=code)


def _can_write(request) -> bool:
    return request.membership.allows(Role.MEMBER) and request.tenant.is_active


def worksets(request):
    queryset = Workset.objects.visible_to(request.membership).select_related("submitted_by")
    filters = WorksetFilter(request.GET or None, queryset=queryset)
    rows = filters.qs if filters.is_valid() else queryset.not_archived()
    paginator = NewestFirst()
    paginator.page_size = PAGE_SIZE
    page = paginator.paginate_queryset(rows, Request(request))
    context = {
        "filters": filters,
        "worksets": page,
        "next_page": paginator.get_next_link(),
        "previous_page": paginator.get_previous_link(),
        "filtered": bool(
            request.GET.get("state") or request.GET.get("pipeline") or request.GET.get("submitter")
        ),
        "can_write": _can_write(request),
        "pipelines": Pipeline.objects.values_list("code", flat=True),
    }
    return render(request, "jobs/worksets.html", context)


def workset(request, code):
    item = get_object_or_404(Workset.objects.visible_to(request.membership).with_details(), code=code)
    can_write = _can_write(request)
    steps = list(item.steps.all())
    context = {
        "workset": item,
        "steps": steps,
        "steps_done": sum(step.status == SUCCEEDED for step in steps),
        "estimated_cost": (item.estimate or {}).get("cost_usd"),
        "spec_json": json.dumps(item.spec, indent=2),
        "problems": (item.validation or {}).get("problems") or [],
        "diagnosis": diagnosis_report(item),
        "profiles": Profile.objects.of_workset(item.code),
        "can_submit": can_write and item.state == State.VALIDATED,
        "can_cancel": can_write and item.state in CANCELLABLE,
        "can_retry": can_write and item.state in RETRYABLE,
        "can_archive": can_write and item.can_go_to(State.ARCHIVED),
        "can_restore": can_write and item.state == State.ARCHIVED,
        "can_approve": can_write
        and item.state == State.BILLING_HOLD
        and request.membership.allows(Role.OWNER),
    }
    return render(request, "jobs/workset.html", context)


@require_POST
def workset_action(request, code, verb):
    item = get_workset_for_user(request, code)
    if verb not in ACTIONS:
        raise Http404
    if not _can_write(request):
        raise PermissionDenied("Viewers can read worksets but not change them.")
    try:
        result = ACTIONS[verb](request.tenant, item, actor=request.user)
    except IllegalTransition as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _done(verb, result))
        return redirect("workset", code=result.code)
    return redirect("workset", code=item.code)


def _done(verb: str, result: Workset) -> str:
    if verb == "retry":
        return f"Retry {result.code} created (attempt {result.attempt}): {result.state}."
    return f"Workset {result.code}: {result.state}."


def new_workset(request):
    """One form whatever the source: an uploaded file or a bucket prefix fills it in for review, "Check"
    validates and estimates without saving, "Submit" creates and queues."""
    if not _can_write(request):
        raise PermissionDenied("Submitting worksets needs the member role.")
    if request.method != "POST":
        return _new_page(request, WorksetForm(), rows_of({}))
    source = request.POST.get("source", "form")
    if source in ("upload", "prefix"):
        return _fill_from(request, source)
    form, rows = WorksetForm(request.POST), sample_rows(request.POST)
    if not form.is_valid():
        return _new_page(request, form, rows)
    document = form.document(samples_of(rows))
    if request.POST.get("intent") == "check":
        report = validate_workset(request.tenant, document, dry_run=False, strict=False)
        return _new_page(request, form, rows, report=report.as_dict(), checked=True)
    try:
        created = services.create_workset(request.tenant, document, actor=request.user)
    except services.WorksetInvalid as invalid:
        return _new_page(request, form, rows, report=invalid.report.as_dict())
    messages.success(request, f"Workset {created.code} submitted: {created.state}.")
    return redirect("workset", code=created.code)


def _fill_from(request, source: str):
    try:
        if source == "upload":
            document = document_from_upload(request.tenant, request.FILES.get("spec_file"))
            form, rows = WorksetForm(initial=initial_from(document)), rows_of(document)
        else:
            rows = rows_from_prefix(request.tenant, request.POST.get("prefix", ""))
            form = WorksetForm(initial={"name": request.POST.get("prefix", "").strip("/").replace("/", "-")})
    except ValidationError as error:
        return _new_page(request, WorksetForm(), [], source_error=" ".join(error.messages), source=source)
    return _new_page(request, form, rows, source=source, filled=True)


def _new_page(request, form, rows, *, report=None, checked=False, source="form", **extra):
    problems = (report or {}).get("problems") or []
    fields, samples, other = problems_by_field(problems, set(form.fields))
    padded = rows + [_blank_row() for _ in range(max(BLANK_ROWS - len(rows), 0 if rows else 1))]
    context = {
        "form": form,
        "rows": [{**row, "problems": samples.get(i, {})} for i, row in enumerate(padded)],
        "field_problems": fields,
        "other_problems": other,
        "report": report,
        "checked": checked,
        "source": source,
        **extra,
    }
    return render(request, "jobs/workset_new.html", context)


def _blank_row() -> dict:
    return dict.fromkeys(("sample_id", "fastq_r1", "fastq_r2", "coverage"), "")


SAMPLE_FIELD = re.compile(r"^samples\[(\d+)\]\.(\w+)$")


def problems_by_field(problems: list[dict], form_fields: set[str]):
    """Problems next to the field they concern: a form field, a sample row's cell, or (else) on top."""
    fields: dict[str, list[str]] = {}
    samples: dict[int, dict[str, list[str]]] = {}
    other: list[str] = []
    for problem in problems:
        path, text = problem.get("field") or "", services.line(problem)
        top = path.split(".")[0].split("[")[0]
        match = SAMPLE_FIELD.match(path)
        if match:
            samples.setdefault(int(match[1]), {}).setdefault(match[2], []).append(text)
        elif top == "notifications":
            fields.setdefault("notification_emails", []).append(text)
        elif top in form_fields and top == path:
            fields.setdefault(top, []).append(text)
        else:
            other.append(f"{path}: {text}" if path else text)
    return fields, samples, other
