"""Profiles for the assistant: hotspots, vector mix, memory bottlenecks, compiler-flag advice, one
function in depth and a run-to-run diff. Each is ``analysis.insights`` on the stored tables, the same
call as ``/api/v1/profiles/<code>/…``, so the figures (with their kind: exact, simulated, sampled,
estimated) are the API's."""

from __future__ import annotations

from analysis import insights
from analysis.models import Profile
from analysis.tables import NotReady, parsed
from analysis.views.profiles import MEMORY_LABELS
from chat.tools.base import ToolContext, ToolError, ToolResult, link, tool
from tenants.storage.base import StorageError

PROFILE = {
    "type": "string",
    "minLength": 1,
    "maxLength": 40,
    "default": "latest",
    "description": "A profile's code, or “latest” (the newest ready profile).",
}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 50}


def find_profile(ctx: ToolContext, given: str) -> Profile:
    profiles = Profile.objects.visible_to(ctx.membership)
    if given.strip().lower() in ("latest", "previous"):
        ready = list(profiles.ready().order_by("-created_at", "-id")[:2])
        index = 0 if given.strip().lower() == "latest" else 1
        if len(ready) <= index:
            raise ToolError(f"{ctx.tenant.name} has no {'' if index == 0 else 'second '}ready profile yet.")
        return ready[index]
    found = profiles.filter(code=given.strip()).first()
    if found is None:
        raise ToolError(f"There is no profile {given!r} in {ctx.tenant.name}.")
    return found


def tables_of(profile: Profile):
    try:
        return parsed(profile)
    except NotReady as error:
        raise ToolError(str(error)) from error
    except StorageError as error:
        raise ToolError(f"The profile's tables could not be read just now ({error}).") from error


def profile_link(profile: Profile) -> tuple[str, str]:
    return link(f"Profile {profile.name}", "profile", code=profile.code)


def figure(value: dict | None) -> str:
    """A figure as text with its unit and kind: ``12,345 (exact)``, ``41.2 % (simulated)``."""
    if not value or value.get("value") is None:
        return "not measured"
    number, unit = value["value"], value.get("unit", "count")
    if unit in ("share", "ratio"):
        shown = f"{number * 100:.1f} %"
    elif unit == "share points":
        shown = f"{number * 100:+.1f} points"
    elif isinstance(number, int) or float(number).is_integer():
        shown = f"{int(number):,}" + ("" if unit == "count" else f" {unit}")
    else:
        shown = f"{number:,.3f}" + ("" if unit in ("count", "ratio") else f" {unit}")
    return f"{shown} ({value.get('kind', '')})"


def insight(call, *fields: str):
    """Run an insight; a ValueError (an event the profile lacks, an unknown target) names the argument."""
    try:
        return call()
    except ValueError as error:
        raise ToolError(f"{' / '.join(fields)}: {error}") from error


@tool(
    "profile_hotspots",
    "The hottest functions, basic blocks or source lines of a profile: instructions, cycles or samples, "
    "share of the total, CPI where cycles were measured.",
    {
        "properties": {
            "profile": PROFILE,
            "by": {"enum": ["function", "block", "line"], "default": "function"},
            "limit": {**LIMIT, "default": 10},
            "event": {"type": ["string", "null"], "maxLength": 40, "description": "e.g. Ir, cycles, D1mr."},
        }
    },
)
def profile_hotspots(ctx: ToolContext, profile="latest", by="function", limit=10, event=None):
    found = find_profile(ctx, profile)
    tables = tables_of(found)
    result = insight(lambda: insights.hotspots(tables, by=by, event=event or None, limit=limit), "event")
    data = result.as_dict()
    lines = [
        f"Top {len(data['rows'])} {by}s of **{found.name}** by {data['event']} ({data['kind']}), "
        f"total {figure(data['total'])}:"
        if data["rows"]
        else f"**{found.name}** has no {by}-level figures to rank:"
    ]
    for row in data["rows"]:
        where = row["function"] + (f":{row['line']}" if row.get("line") is not None else "")
        where += f" @{row['address']:#x}" if row.get("address") is not None else ""
        extra = [f"CPI {figure(row['cpi'])}"] if row["cpi"]["value"] is not None else []
        if row["estimated_cycles"]["value"] is not None:
            extra.append(f"estimated cycles {figure(row['estimated_cycles'])}")
        lines.append(
            f"{row['rank']}. `{where}`: {figure(row['self'])}, {figure(row['self_share'])} of the total"
            + (f"; {', '.join(extra)}" if extra else "")
        )
    lines += _notes(data)
    links = (profile_link(found), *[_function_link(found, r["function"]) for r in data["rows"][:3]])
    return ToolResult("profile_hotspots", {}, {"profile": found.code, **data}, "\n".join(lines), links)


@tool(
    "profile_vectorization",
    "Vector register mix per function (zmm = AVX-512, ymm = AVX2, xmm = SSE, scalar) with sample "
    "instructions, and the functions worth upgrading to AVX2/AVX-512.",
    {"properties": {"profile": PROFILE, "limit": {**LIMIT, "default": 20}}},
)
def profile_vectorization(ctx: ToolContext, profile="latest", limit=20):
    found = find_profile(ctx, profile)
    data = insights.vectorization(tables_of(found), limit=limit).as_dict()
    program = ", ".join(f"{key} {figure(value)}" for key, value in data["program"].items())
    lines = [
        f"Register mix of **{found.name}** ({data['program_basis']}): {program}.",
        f"- Using zmm (AVX-512): {_using(data['rows'], 'zmm')}",
        f"- Using ymm (AVX/AVX2): {_using(data['rows'], 'ymm')}",
        "",
        "Per function:",
    ]
    for row in data["rows"]:
        shares = ", ".join(f"{key} {figure(value)}" for key, value in row["shares"].items())
        samples = "; ".join(
            f"{s.get('mnemonic', '')} {s.get('operands', '')}".strip() for s in row["samples"][:3]
        )
        lines.append(f"- `{row['function']}`: {shares}" + (f" — e.g. `{samples}`" if samples else ""))
    if data["upgrade_candidates"]:
        lines += ["", "Upgrade candidates:"]
        lines += [f"- `{c['function']}` ({c['kind']}): {c['reason']}" for c in data["upgrade_candidates"]]
    lines += _notes(data)
    return ToolResult(
        "profile_vectorization", {}, {"profile": found.code, **data}, "\n".join(lines), (profile_link(found),)
    )


@tool(
    "profile_memory",
    "Memory bottlenecks per function: cache miss rates, misses per 1000 instructions, branch "
    "mispredictions, TLB misses and CPI, ranked by estimated stall cost.",
    {"properties": {"profile": PROFILE, "limit": {**LIMIT, "default": 10}}},
)
def profile_memory(ctx: ToolContext, profile="latest", limit=10):
    found = find_profile(ctx, profile)
    data = insights.memory(tables_of(found), limit=limit).as_dict()
    lines = [f"Memory bottlenecks of **{found.name}** (score: {data['score_formula']}):"]
    for row in data["rows"]:
        cpi = row["figures"].get("cpi")
        extra = f"; CPI {figure(cpi)}" if cpi and cpi["value"] is not None else ""
        reason = row["reason"].removeprefix(f"{row['function']}: ")
        lines.append(f"{row['rank']}. `{row['function']}`: {reason}{extra}")
    lines += _notes(data)
    links = (profile_link(found), *[_function_link(found, r["function"]) for r in data["rows"][:3]])
    return ToolResult("profile_memory", {}, {"profile": found.code, **data}, "\n".join(lines), links)


@tool(
    "profile_recommendations",
    "Compiler flags and code changes for a profile, each with the evidence from the profile; "
    "optionally for a -march target CPU.",
    {
        "properties": {
            "profile": PROFILE,
            "target": {"type": ["string", "null"], "maxLength": 40, "description": "e.g. icelake-server."},
        }
    },
)
def profile_recommendations(ctx: ToolContext, profile="latest", target=None):
    found = find_profile(ctx, profile)
    tables = tables_of(found)
    data = insight(lambda: insights.recommendations(tables, target=target or None), "target").as_dict()
    lines = [
        f"Recommendations for **{found.name}**" + (f" on {data['target']}" if data["target"] else "") + ":"
    ]
    for item in data["items"]:
        evidence = "; ".join(
            f"{e.get('formula') or ', '.join(e['events'])} = {figure(e)}" for e in item["evidence"]
        )
        advice = " — ".join(
            part for part in (f"`{item['flag']}`" if item["flag"] else "", item["hint"]) if part
        )
        lines.append(f"- {advice}: {item['reason']}" + (f" (evidence: {evidence})" if evidence else ""))
    if not data["items"]:
        lines.append("Nothing to recommend from this profile.")
    lines += _notes(data)
    return ToolResult(
        "profile_recommendations",
        {},
        {"profile": found.code, **data},
        "\n".join(lines),
        (profile_link(found),),
    )


@tool(
    "profile_function",
    "One function in depth: its cost in every event, instruction mix, memory figures, CPI, hottest lines "
    "and instructions, callers and callees. The function is a name, or an address like 0x401520.",
    {
        "properties": {"profile": PROFILE, "function": {"type": "string", "minLength": 1, "maxLength": 2000}},
        "required": ["function"],
    },
)
def profile_function(ctx: ToolContext, function: str, profile="latest"):
    found = find_profile(ctx, profile)
    tables = tables_of(found)
    name, obj, address = _function_named(tables, function.strip())
    try:
        data = insights.function_detail(tables, name, object=obj).as_dict()
    except LookupError as error:
        raise ToolError(f"There is no function {function!r} in {found.name}.") from error
    lines = [
        f"**{data['function']}** in {data['object']}"
        + (f" (contains {address:#x})" if address is not None else "")
        + f", profile **{found.name}**:"
    ]
    for cost in data["costs"]:
        lines.append(
            f"- {cost['event']}: self {figure(cost['self'])}, {figure(cost['self_share'])} of the total"
        )
    lines.append(f"- estimated cycles: {figure(data['estimated_cycles'])}")
    lines += [
        f"- {MEMORY_LABELS.get(name, name)}: {figure(value)}"
        for name, value in data["memory"].items()
        if value["value"] is not None
    ]
    mix = (data["mix"].get("register_class") or {}).get("rows", [])
    if mix:
        lines.append("Register mix: " + ", ".join(f"{r['key']} {r['share'] * 100:.1f} %" for r in mix))
    hottest = [
        f"`{row.get('address', 0):#x} {row.get('mnemonic', '')} {row.get('operands', '')}`".replace(" `", "`")
        for row in data["top_instructions"][:5]
        if row.get("address") is not None
    ]
    if hottest:
        lines.append("Hottest instructions: " + ", ".join(hottest))
    lines += _notes(data)
    payload = {"profile": found.code, "address": address, **data}
    return ToolResult("profile_function", {}, payload, "\n".join(lines), (_function_link(found, name),))


@tool(
    "profile_diff",
    "What changed between two runs: per-function cost and share of the total, regressions and "
    "improvements. ``against`` is the earlier run (a code, or “previous”).",
    {
        "properties": {
            "profile": PROFILE,
            "against": {**PROFILE, "description": "The profile to compare with (the earlier run)."},
        },
        "required": ["profile", "against"],
    },
)
def profile_diff(ctx: ToolContext, profile: str, against: str):
    after, before = find_profile(ctx, profile), find_profile(ctx, against)
    if after.pk == before.pk:
        raise ToolError("Compare two different profiles.")
    data = insights.diff(tables_of(before), tables_of(after), limit=10).as_dict()
    lines = [
        f"**{after.name}** against **{before.name}** ({data['canonical'] or data['event_after']}): total "
        f"{figure(data['total_before'])} → {figure(data['total_after'])}, "
        f"change {figure(data['total_change'])}."
    ]
    for title, rows in (("Improved", data["improvements"]), ("Regressed", data["regressions"])):
        if rows:
            lines.append(f"{title}:")
            lines += [
                f"- `{r['function']}`: {figure(r['before'])} → {figure(r['after'])}, share "
                f"{figure(r['share_change'])}"
                for r in rows[:5]
            ]
    lines += _notes(data)
    links = (
        link("Profile diff", "profile_diff", code=after.code, query={"against": before.code}),
        profile_link(after),
        profile_link(before),
    )
    payload = {"profile": after.code, "against": before.code, **data}
    return ToolResult("profile_diff", {}, payload, "\n".join(lines), links)


def _notes(data: dict) -> list[str]:
    """The insight's notes as their own paragraphs (after a list they would join its last item)."""
    return [line for note in data.get("notes", []) for line in ("", f"_{note}_")]


def _using(rows: list[dict], register: str) -> str:
    """The functions among ``rows`` that run ``register`` instructions, with their share, or "none"."""
    using = [row for row in rows if (row["shares"][register]["value"] or 0) > 0]
    return ", ".join(f"`{row['function']}` ({figure(row['shares'][register])})" for row in using) or "none"


def _function_link(profile: Profile, function: str) -> tuple[str, str]:
    return link(
        f"{function} in {profile.name}", "profile_function", code=profile.code, query={"name": function}
    )


def _function_named(tables, given: str) -> tuple[str, str | None, int | None]:
    """(function, object, address): a name as is, or the function whose instructions (or blocks) span an
    address given as 0x… ."""
    if not given.lower().startswith("0x"):
        return given, None, None
    try:
        address = int(given, 16)
    except ValueError as error:
        raise ToolError(f"{given!r} is not a hexadecimal address.") from error
    for frame in (tables.instructions, tables.blocks):
        if frame.empty or "address" not in frame:
            continue
        known = frame.dropna(subset=["address"])
        exact = known[known.address == address]
        if not exact.empty:
            return str(exact.function.iloc[0]), str(exact.object.iloc[0]), address
        spans = known.groupby(["object", "function"]).address.agg(["min", "max"]).reset_index()
        inside = spans[(spans["min"] <= address) & (spans["max"] >= address)]
        if not inside.empty:
            best = inside.assign(width=inside["max"] - inside["min"]).sort_values("width").iloc[0]
            return str(best.function), str(best.object), address
    raise ToolError(f"No function of this profile contains the address {given}.")
