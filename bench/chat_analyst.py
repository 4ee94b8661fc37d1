"""The built-in analyst's answer latency on the chat issue's example questions, against the tools alone.

    python bench/chat_analyst.py [--repeat 30]

One tenant in a database of its own (``runyard_bench_<pid>``, see ``bench/tenant_onboarding.py``), filled
with real data through the same builders as the tests (``tests.builders``): the demo's before and after
profiles (callgrind joined with objdump, uploaded and parsed, "after" the latest), the Heliox cost sample of
``analysis/demo_costs/`` (teams, GPU jobs, rates, rollups) and a failed workset with a diagnosis (a full
disk in the align step). The questions are the eight of the issue; "last week" is asked on Monday
2026-01-12 (``ToolContext.today``), the week the Heliox sample covers, as in ``tests/chat/test_assistant.py``.

For each question, ``--repeat`` timed runs (after one warm-up) of

- end to end: ``chat.assistant.ask`` in the tenant's schema (routing, every tool call through
  ``call_tool`` with its checks and audit row, composition of the Markdown answer);
- the baseline, the tool calls alone: the same plan's calls (``chat.analyst.router.route``, outside the
  timing) through ``chat.tools.call_tool``.

It prints p50 and p95 of each, and ask/tools of the medians: what routing and composition add. Every answer
must be non-empty, contain a figure (a digit) and have no refused or broken lookup, or the bench exits 1.
Nothing is streamed here (``chat.engine`` adds 10 ms per 24 characters on the socket, on purpose); see
``bench/chat_sockets.py`` for the socket. The database and a temporary RUNYARD_HOME (the profiles' bucket)
are removed at the end, also on failure. REDIS_URL is dropped, so nothing reaches a shared Redis.
"""

import argparse
import math
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from tenant_onboarding import throwaway_database  # noqa: E402

MONDAY = date(2026, 1, 12)  # "last week" is 2026-01-05 to 2026-01-11, inside the Heliox sample
COSTS = ROOT / "analysis" / "demo_costs"
FAILED_LOG = "[align] writing /scratch/HG002.bam\nbwa: write error: No space left on device\n"
FIGURE = re.compile(r"\d")
# The examples, in its words; {workset} is the failed workset's code, {address} stands for the
# issue's 0x401520 (not an address of the demo binary): the first of the hottest function's top instructions.
QUESTIONS = (
    "What are the three hottest functions or basic blocks in my latest run, with instruction counts and "
    "cycle share?",
    "Which functions use AVX-512 (zmm) and which still use AVX2 (ymm)? Show names and sample instructions.",
    "Which functions have memory operations with high CPI, cache misses or page walks?",
    "Recommend compiler flags for this workload, which is memory-bandwidth bound and can use AVX-512, and "
    "justify them from the profile.",
    "Give me a detailed instruction profile of function {address} (instruction mix, CPI, memory hierarchy).",
    "What's the status of workset {workset}?",
    "Why did workset {workset} fail and what should I do?",
    "What did each team spend on GPUs last week?",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each question and path")
    args = parser.parse_args()
    if args.repeat < 2:
        parser.error("--repeat must be at least 2 (for a p95)")
    return args


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(len(ordered) * share), 1) - 1]


def timed(function, repeat: int) -> tuple[list[float], object]:
    answer = function()  # warm-up: imports, plans, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = function()
        times.append(time.perf_counter() - started)
    return times, answer


def fill(tenant, owner):
    """The tenant's data, as the tests build it; returns the failed workset."""
    from django_tenants.utils import tenant_context

    from tests.builders import load_cost_rows, make_workset, parse_demo_profiles

    with tenant_context(tenant):
        parse_demo_profiles("Bench", actor=owner)
        load_cost_rows((COSTS / "heliox-jobs.json").read_text(), (COSTS / "rates.csv").read_text())
    workset = make_workset(tenant, state="failed", name="Bench broken run")
    with tenant_context(tenant):
        type(workset).objects.filter(pk=workset.pk).update(
            failed_step="align", diagnosis={"step": "align", "excerpt": FAILED_LOG}
        )
    return workset


def an_address(ctx) -> str:
    """An instruction address inside the latest profile's hottest function, as the test of that question
    takes it (from the function's own table)."""
    from chat.tools import call_tool

    hottest = call_tool("profile_hotspots", {"by": "function", "limit": 1}, ctx).data["rows"][0]
    detail = call_tool("profile_function", {"function": hottest["function"]}, ctx).data
    return f"{detail['top_instructions'][0]['address']:#x}"


def problems(reply) -> list[str]:
    found = []
    if not reply.answer.markdown.strip():
        found.append("empty answer")
    elif not FIGURE.search(reply.answer.markdown):
        found.append("no figure in the answer")
    if not reply.lookups:
        found.append("no tool was called")
    found += [f"{lookup.call.tool}: {lookup.refusal}" for lookup in reply.lookups if lookup.refusal]
    return found


def bench(question: str, ctx, repeat: int) -> dict:
    from chat import assistant
    from chat.analyst.router import route
    from chat.tools import call_tool

    plan = route(question, today=ctx.today, context={})
    calls = [(call.tool, dict(call.arguments)) for call in plan.calls]
    ask_times, reply = timed(lambda: assistant.ask(question, ctx), repeat)
    tool_times, _ = timed(lambda: [call_tool(name, arguments, ctx) for name, arguments in calls], repeat)
    return {
        "question": question,
        "tools": [name for name, _ in calls],
        "ask": ask_times,
        "calls": tool_times,
        "chars": len(reply.answer.markdown),
        "problems": problems(reply),
    }


def report(rows: list[dict], repeat: int) -> bool:
    ok = True
    print(
        f"\n{repeat} timed runs each (ms); ask = chat.assistant.ask, tools = call_tool for the plan's calls"
    )
    print(f"{'':3} {'ask p50':>8} {'ask p95':>8} {'tools p50':>9} {'tools p95':>9} {'ask/tools':>9}  tools")
    for n, row in enumerate(rows, 1):
        ask50, ask95 = (1000 * percentile(row["ask"], q) for q in (0.5, 0.95))
        call50, call95 = (1000 * percentile(row["calls"], q) for q in (0.5, 0.95))
        ratio = statistics.median(row["ask"]) / statistics.median(row["calls"])
        print(
            f"Q{n}: {ask50:8.1f} {ask95:8.1f} {call50:9.1f} {call95:9.1f} {ratio:8.2f}x  "
            f"{', '.join(row['tools'])}; answer {row['chars']:,} chars"
        )
        for problem in row["problems"]:
            ok = False
            print(f"     PROBLEM: {problem}")
    asks = [t for row in rows for t in row["ask"]]
    tools = [t for row in rows for t in row["calls"]]
    summed = sum(statistics.median(r["ask"]) for r in rows) / sum(statistics.median(r["calls"]) for r in rows)
    print(
        f"all: ask p50 {1000 * percentile(asks, 0.5):.1f} ms, p95 {1000 * percentile(asks, 0.95):.1f} ms; "
        f"tools p50 {1000 * percentile(tools, 0.5):.1f} ms, p95 {1000 * percentile(tools, 0.95):.1f} ms; "
        f"ask/tools of the summed medians {summed:.2f}x"
    )
    for n, row in enumerate(rows, 1):
        print(f"Q{n}: {row['question']}")
    return ok


def main() -> None:
    args = parse_args()
    os.environ.pop("REDIS_URL", None)
    with tempfile.TemporaryDirectory(prefix="runyard-bench-") as home, throwaway_database():
        os.environ["RUNYARD_HOME"] = home
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        import django

        django.setup()
        from django_tenants.utils import tenant_context

        from chat.tools import ToolContext
        from tenants.models import Membership
        from tenants.services import setup_database
        from tests.builders import make_tenant

        setup_database(verbosity=0)
        tenant = make_tenant("bench-analyst", owner_email="owner@bench-analyst.invalid")
        with tenant_context(tenant):
            membership = Membership.objects.select_related("user").get(tenant=tenant)
        started = time.perf_counter()
        workset = fill(tenant, membership.user)
        print(f"profiles, costs and a failed workset loaded in {time.perf_counter() - started:.1f} s")
        ctx = ToolContext(membership, membership.user, tenant, MONDAY)
        with tenant_context(tenant):
            names = {"workset": workset.code, "address": an_address(ctx)}
            rows = [bench(q.format(**names), ctx, args.repeat) for q in QUESTIONS]
        ok = report(rows, args.repeat)
    if not ok:
        raise SystemExit("some answers are empty, without a figure, or refused")


if __name__ == "__main__":
    main()
