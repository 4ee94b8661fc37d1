"""Profile pages: the list with the upload form, a profile (hotspots, vector mix, memory, advice, icicle),
one function in depth, and the diff of two runs.

Every member reads; members and up upload, re-parse and delete (the buttons are not drawn for viewers and
their POSTs are refused). Every figure comes from ``analysis.insights`` (the functions the API and the
chat assistant call) on the stored tables; the pages only format it (``figure_text``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.request import Request

from analysis import insights
from analysis.forms import ProfileUploadForm
from analysis.listing import NewestFirst, ProfileFilter
from analysis.models import Profile, State
from analysis.profiles.model import CANONICAL
from analysis.services import profiles as profile_services
from analysis.tables import NotReady, parsed
from analysis.views.figure_text import readable
from analysis.views.flame_svg import icicle
from tenants.models import Role

PAGE_SIZE = 25
TOP = 20
BY_LABELS = {"function": "Function", "line": "Source line", "block": "Basic block"}
MEMORY_LABELS = {
    "d1_miss_rate": "L1D miss rate",
    "l1d_mpki": "L1D misses per 1000 instructions",
    "ll_miss_rate": "Last-level miss rate",
    "ll_mpki": "LL misses per 1000 instructions",
    "branch_mispredict_rate": "Branch mispredict rate",
    "dtlb_misses": "dTLB misses",
    "dtlb_mpki": "dTLB misses per 1000 instructions",
    "cpi": "Cycles per instruction",
}


def get_profile_for_user(request, code: str) -> Profile:
    return get_object_or_404(Profile.objects.visible_to(request.membership), code=code)


def _can_write(request) -> bool:
    return request.membership.allows(Role.MEMBER) and request.tenant.is_active


def _refuse_viewers(request) -> None:
    if not _can_write(request):
        raise PermissionDenied("Viewers can read profiles but not change them.")


# -- the list and the upload form ------------------------------------------------------------------------


def profiles(request):
    form = ProfileUploadForm()
    if request.method == "POST":
        _refuse_viewers(request)
        form = ProfileUploadForm(request.POST, request.FILES)
        created = _upload(request, form) if form.is_valid() else None
        if created is not None:
            messages.success(request, f"Profile {created.name} uploaded: it is being parsed.")
            return redirect("profile", code=created.code)
    return _list(request, form, status=400 if form.errors else 200)


def _upload(request, form: ProfileUploadForm) -> Profile | None:
    file, extra = form.cleaned_data["file"], form.cleaned_data.get("disassembly")
    try:
        return profile_services.create_profile(
            name=form.cleaned_data.get("name", ""),
            filename=file.name,
            data=file,
            size=file.size,
            actor=request.user,
            disassembly=(extra.name, extra, extra.size) if extra else None,
        )
    except ValidationError as error:
        for field, problems in getattr(error, "message_dict", {"file": error.messages}).items():
            form.add_error(field if field in form.fields else None, problems)
        return None


def _list(request, form: ProfileUploadForm, *, status: int):
    queryset = Profile.objects.visible_to(request.membership).select_related("created_by")
    filters = ProfileFilter(request.GET or None, queryset=queryset)
    rows = filters.qs if filters.is_valid() else queryset
    paginator = NewestFirst()
    paginator.page_size = PAGE_SIZE
    page = paginator.paginate_queryset(rows, Request(request))
    context = {
        "profiles": page,
        "filters": filters,
        "form": form,
        "states": State.choices,
        "formats": sorted(set(queryset.exclude(format="").values_list("format", flat=True))),
        "filtered": bool(request.GET.get("state") or request.GET.get("format")),
        "next_page": paginator.get_next_link(),
        "previous_page": paginator.get_previous_link(),
        "can_write": _can_write(request),
    }
    return render(request, "analysis/profiles.html", context, status=status)


# -- one profile -------------------------------------------------------------------------------------------


def profile(request, code: str):
    item = get_profile_for_user(request, code)
    context: dict[str, Any] = {
        "profile": item,
        "meta": item.meta or {},
        "events": _events(item.meta or {}),
        "can_write": _can_write(request),
        "live": item.state in (State.PENDING, State.PARSING),
    }
    if item.state == State.READY:
        context.update(_insights(request, item))
    return render(request, "analysis/profile.html", context)


def _events(meta: dict) -> list[dict]:
    info, totals = meta.get("event_info", {}), meta.get("totals", {})
    return [
        {
            "name": name,
            "label": info.get(name, {}).get("label")
            or CANONICAL.get(info.get(name, {}).get("canonical"), ""),
            "kind": info.get(name, {}).get("kind", ""),
            "unit": info.get(name, {}).get("unit", "count"),
            "total": f"{totals[name]:,}" if totals.get(name) is not None else None,
        }
        for name in meta.get("events", [])
    ]


def _insights(request, item: Profile) -> dict[str, Any]:
    data = parsed(item)
    problems: dict[str, str] = {}
    by = request.GET.get("by") if request.GET.get("by") in BY_LABELS else "function"
    event = request.GET.get("event") or None
    target = request.GET.get("target") or None
    try:
        hot = insights.hotspots(data, by=by, event=event, limit=TOP)
    except ValueError as error:
        problems["event"], event = str(error), None
        hot = insights.hotspots(data, by=by, limit=TOP)
    try:
        advice = insights.recommendations(data, target=target)
    except ValueError as error:
        problems["target"], target = str(error), None
        advice = insights.recommendations(data)
    vector = readable(insights.vectorization(data, limit=TOP).as_dict())
    tree = insights.flame(data, event=hot.event)
    hotspots = readable(hot.as_dict())
    return {
        "by": by,
        "by_labels": BY_LABELS,
        "problems": problems,
        "hotspots": hotspots,
        "vector": vector,
        "memory": readable(insights.memory(data, limit=TOP).as_dict()),
        "advice": readable(advice.as_dict()),
        "targets": list(insights.TARGETS),
        "target": target or "",
        "flame": readable(tree.as_dict()),
        "icicle": icicle(tree.tree, event=tree.event),
        "others": Profile.objects.visible_to(request.membership).ready().exclude(pk=item.pk)[:100],
        "chart_data": {"hotspots": _hotspot_chart(hotspots, by), "vector": _vector_chart(vector)},
    }


def _hotspot_chart(hot: dict, by: str) -> dict:
    def label(row: dict) -> str:
        if by == "line":
            return f"{row['function']} :{row['line']}"
        if by == "block":
            return (
                f"{row['function']} @{row['address']:#x}" if row["address"] is not None else row["function"]
            )
        return row["function"]

    return {
        "labels": [label(row) for row in hot["rows"]],
        "values": [row["self_share"]["value"] for row in hot["rows"]],
        "label": f"Self share of {hot['event']} ({hot['kind']})",
    }


def _vector_chart(vector: dict) -> dict:
    classes = ("zmm", "ymm", "xmm", "scalar")
    return {
        "labels": [row["function"] for row in vector["rows"]],
        "series": [
            {
                "label": f"{name} ({_first_kind(vector['rows'], name)})",
                "values": [row["shares"][name]["value"] for row in vector["rows"]],
            }
            for name in classes
        ],
    }


def _first_kind(rows: list[dict], name: str) -> str:
    return next((row["shares"][name]["kind"] for row in rows if row["shares"][name]["kind"]), "")


@require_POST
def profile_reparse(request, code: str):
    item = get_profile_for_user(request, code)
    _refuse_viewers(request)
    profile_services.reparse_profile(item, actor=request.user)
    messages.success(request, f"Profile {item.name} is being parsed again.")
    return redirect("profile", code=item.code)


@require_POST
def profile_delete(request, code: str):
    item = get_profile_for_user(request, code)
    _refuse_viewers(request)
    profile_services.delete_profile(item, actor=request.user)
    messages.success(request, f"Profile {item.name} deleted.")
    return redirect("profiles")


# -- one function, two runs --------------------------------------------------------------------------------


def _ready(item: Profile):
    try:
        return parsed(item)
    except NotReady as error:
        raise Http404(str(error)) from error


def profile_function(request, code: str):
    item = get_profile_for_user(request, code)
    name, obj = request.GET.get("name", ""), request.GET.get("object") or None
    if not name:
        raise Http404("Which function?")
    try:
        detail = insights.function_detail(_ready(item), name, object=obj)
    except LookupError as error:
        raise Http404(f"No function {name!r} in this profile.") from error
    shown = readable(detail.as_dict())
    for table in shown["mix"].values():
        for row in table.get("rows", []):
            row["share_text"] = f"{row['share']:.1%}" if row.get("share") is not None else "—"
    mix = shown["mix"].get("register_class") or {}
    chart = {
        "labels": [row["key"] for row in mix.get("rows", [])],
        "values": [row["share"] for row in mix.get("rows", [])],
        "label": f"Register class, {mix.get('basis', '')} mix",
    }
    memory = [(MEMORY_LABELS.get(name, name), figure) for name, figure in shown["memory"].items()]
    context = {"profile": item, "detail": shown, "memory": memory, "chart_data": {"mix": chart}}
    return render(request, "analysis/profile_function.html", context)


def profile_diff(request, code: str):
    after = get_profile_for_user(request, code)
    against = request.GET.get("against", "")
    before = Profile.objects.visible_to(request.membership).filter(code=against).first()
    if before is None:
        raise Http404("No such profile to compare with in this tenant.")
    event = request.GET.get("event") or None
    try:
        result = insights.diff(_ready(before), _ready(after), event=event, limit=TOP)
    except ValueError as error:
        messages.error(request, str(error))
        result = insights.diff(_ready(before), _ready(after), limit=TOP)
    shown = readable(result.as_dict())
    rows = shown["rows"][: TOP * 2]
    chart = {
        "labels": [row["function"] for row in rows],
        "values": [row["share_change"]["value"] for row in rows],
        "statuses": [row["status"] for row in rows],
        "label": f"Share change of {shown['canonical'] or shown['event_after']} (percentage points)",
    }
    shifted = [row for row in shown["rows"] if row["status"] == "shifted"]
    context = {
        "before": before,
        "after": after,
        "diff": shown,
        "shifted": shifted,
        "chart_data": {"diff": chart},
    }
    return render(request, "analysis/profile_diff.html", context)
