"""Deterministic intent routing: a chat question becomes the tool calls that answer it.

Rules are tried in order, most specific first (a cancel outranks a status, a function's address outranks the
hotspots); each rule's builder may decline (return ``None``) so the next one gets a chance. Nothing here
guesses: a workset is used only if the question or the conversation named it.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from chat.analyst import automation
from chat.analyst import entities as find
from chat.analyst.entities import CODE, Question, has
from chat.analyst.examples import EXAMPLES, WORKSET
from chat.analyst.periods import Period, find_period, impossible_dates
from chat.analyst.plan import Call, Plan

CANNOT = "I can't answer that from the portal's data. I can answer questions such as:\n" + "\n".join(
    f"- {example}" for example in EXAMPLES
)
WHICH_WORKSET = f"Which workset? Name it or give its code, e.g. “status of workset {WORKSET}”."
CHANGES = frozenset({"cancel_workset", "retry_workset"})
PRONOUN = r"it|its|this|that workset|that run|that profile|the workset|that one|the run|the profile"


@dataclass(frozen=True)
class Asked:
    """A question read once: the normalised text, what it names, and where it was asked (today, context)."""

    question: Question
    text: str  # with periods, codes and addresses blanked, so their digits are not read as counts
    today: date
    context: Mapping[str, Any]
    period: Period | None

    @property
    def limit(self) -> dict[str, int]:
        n = find.number(self.text)
        return {"limit": n} if n else {}


def route(question: str, *, today: date, context: Mapping | None = None) -> Plan:
    """The plan for one question; when no rule fits, no calls and a list of what can be asked instead."""
    asked = _read(question, today, context or {})
    bad = impossible_dates(asked.question.text)
    if bad:
        return Plan(unanswered=f"{', '.join(bad)} is not a date; please check it and ask again.")
    words = _without_names(asked.question)
    for pattern, build in RULES:
        if has(words, pattern):
            plan = build(asked)
            if plan is not None:
                return plan
    return Plan(unanswered=CANNOT)


def _read(question: str, today: date, context: Mapping) -> Asked:
    q = find.normalise(question)
    period = find_period(q.text, today)
    text = q.text
    if period:
        text = text[: period.span[0]] + " " * (period.span[1] - period.span[0]) + text[period.span[1] :]
    text = re.sub(rf"{CODE}|{find.ADDRESS}", " ", text)
    return Asked(q, text, today, context, period)


def _without_names(question: find.Question) -> str:
    """The text the rules read: a code or quoted name ("broken-run-1a2b3c4d") must not pick the intent."""
    named = find.quoted(question)
    text = question.text.replace(named.lower(), " ") if named else question.text
    return re.sub(CODE, " ", text)


def _pointed_workset(asked: Asked) -> str | None:
    """The conversation's workset, only when the question points back at it ("why did it fail?")."""
    return asked.context.get("workset") if has(asked.question.text, PRONOUN) else None


def _profile(asked: Asked) -> str:
    """A profile's code if given, "latest" if asked, the conversation's for "this run", else the latest."""
    refs = find.profile_refs(asked.question)
    if refs:
        return refs[0]
    if asked.context.get("profile") and has(asked.question.text, PRONOUN + r"|this workload"):
        return asked.context["profile"]
    return "latest"


def _plural_worksets(asked: Asked) -> bool:
    return has(asked.question.text, "worksets|all workset|any workset")


def _on_workset(tool: str) -> Callable[[Asked], Plan | None]:
    """A rule for a one-workset tool: declines for "worksets" (a list), asks which one when none is known."""

    def build(asked: Asked) -> Plan | None:
        if _plural_worksets(asked):
            return None
        name = find.workset(asked.question) or _pointed_workset(asked)
        if name:
            return Plan((Call(tool, {"workset": name}),), needs_confirmation=tool in CHANGES)
        job = automation.job_name(asked.question.raw) if tool == "workset_status" else None
        if job:  # "status of job PAYROLL_CALC": a job of the workload-automation plan, not a workset
            return Plan((Call("hwa_job", {"job": job}),))
        if not has(asked.question.text, "workset|it|this|that|jobs?|runs?"):
            return None
        return Plan(unanswered=WHICH_WORKSET)

    return build


def _iss_job(asked: Asked) -> Plan | None:
    match = re.search(r"\bjob\s+(?:id\s+)?#?([A-Za-z0-9][\w.:-]*)", asked.question.raw, re.I)
    if match and re.search(r"\d", match[1]):
        return Plan((Call("iss_job", {"job_id": match[1].rstrip(".:")}),))
    return Plan(unanswered="Which ISS job? Give its id, e.g. “ISS job 12345”.")


def _diff(asked: Asked) -> Plan | None:
    if not has(asked.question.text, "profiles?|runs?"):
        return None
    refs = find.profile_refs(asked.question)
    if len(refs) < 2:
        return Plan(unanswered="Which two profiles? Give both codes, or “latest run” and one code.")
    return Plan((Call("profile_diff", {"profile": refs[0], "against": refs[1]}),))


def _function(asked: Asked) -> Plan | None:
    name = find.address(asked.question) or find.function_name(asked.question)
    if name is None:
        return None
    return Plan((Call("profile_function", {"profile": _profile(asked), "function": name}),))


def _recommendations(asked: Asked) -> Plan:
    """Flag advice; a workload the user calls memory-bound also gets the memory profile that justifies it."""
    profile, notes = _profile(asked), find.notes(asked.question.text)
    arguments = {"profile": profile, **_given(target=find.target(asked.question.text))}
    calls = [Call("profile_recommendations", arguments)]
    if any(note.startswith("memory") for note in notes):
        calls.append(Call("profile_memory", {"profile": profile}))
    return Plan(tuple(calls), notes=notes)


def _profile_tool(tool: str) -> Callable[[Asked], Plan]:
    return lambda asked: Plan((Call(tool, {"profile": _profile(asked), **asked.limit}),))


def _hotspots(asked: Asked) -> Plan | None:
    """One call per level asked for ("functions or basic blocks" is two), by function when none is named."""
    text = asked.question.text
    levels = [
        (m.start(), lvl) for lvl in ("function", "block", "line") for m in re.finditer(rf"\b{lvl}s?\b", text)
    ]
    by = list(dict.fromkeys(level for _, level in sorted(levels))) or ["function"]
    if not levels and not has(text, r"hot\w*|runs?|profiles?|cycles?|instructions?"):
        return None
    return Plan(
        tuple(Call("profile_hotspots", {"profile": _profile(asked), "by": lvl, **asked.limit}) for lvl in by)
    )


def _list_worksets(asked: Asked) -> Plan | None:
    if not has(asked.question.text, "worksets|list workset|my workset|show workset|find workset"):
        return None
    arguments = _given(state=find.state(asked.text), query=find.quoted(asked.question))
    return Plan((Call("list_worksets", {**arguments, **asked.limit}),))


def _given(**arguments: Any) -> dict[str, Any]:
    """Only the arguments the question supplied, so the tools' own defaults apply to the rest."""
    return {key: value for key, value in arguments.items() if value is not None}


def _monthly(tool: str) -> Callable[[Asked], Plan]:
    """Usage and invoices are kept per calendar month; another period is widened to its month, and said so."""

    def build(asked: Asked) -> Plan:
        if asked.period is None:
            return Plan((Call(tool, {}),))
        month = asked.period.month or f"{asked.period.start:%Y-%m}"
        widened = (
            None if asked.period.month else f"These are kept by calendar month, so I looked up {month} whole."
        )
        return Plan((Call(tool, {"month": month}),), unanswered=widened)

    return build


def _cost_by(asked: Asked) -> Plan:
    text, period = asked.question.text, asked.period
    dates = {"start": period.start.isoformat(), "end": period.end.isoformat()} if period else {}
    filters = _given(provider=find.provider(text), gpu_type=find.gpu_type(text))
    return Plan((Call("cost_by", {"group_by": find.group_by(asked.text) or ["team"], **dates, **filters}),))


def _search_files(asked: Asked) -> Plan:
    raw = asked.question.raw
    after = re.search(r"\b(?:named|called|matching|containing|like)\s+([\w.*/-]+)", raw, re.I)
    query = find.quoted(asked.question) or (after[1] if after else None)
    if not query:
        return Plan(unanswered="Which files? Say what the name contains, e.g. “files named sample1.fastq”.")
    prefix = re.search(r"\b(?:under|in folder|prefix)\s+([\w.-]+/[\w./-]*)", raw, re.I)
    return Plan((Call("search_files", {"query": query, **({"prefix": prefix[1]} if prefix else {})}),))


def _fixed(tool: str) -> Callable[[Asked], Plan]:
    return lambda asked: Plan((Call(tool, {}),))


def _queue(asked: Asked) -> Plan:
    """The queue as a whole, or where one workset stands in it ("is workset X still queued?", "is it?")."""
    name = find.workset(asked.question) or _pointed_workset(asked)
    return Plan((Call("workset_status", {"workset": name}) if name else Call("queue_status", {}),))


KNOWLEDGE = (
    r"how (?:do|can|should|would) (?:i|we|you)|how to|runbooks?|playbooks?|docs?|documentation|guides?"
    r"|manual|what does .+ mean|pipelines?|ws-[a-z]{3}-\d{3}|knowledge base"
)
FILLER = (
    r"\b(?:please|tell me|explain|show me|how (?:do|can|should|would) (?:i|we|you)|how to"
    r"|what (?:does|do|is|are)|what's|mean|means|meaning|runbooks?|playbooks?|docs?|documentation|guides?"
    r"|manual|knowledge base|about|for|on)\b"
)


def knowledge_topic(question: str) -> str:
    """What a question asks the knowledge base about, without its question words ("how do I", "mean")."""
    topic = re.sub(FILLER, " ", find.normalise(question).raw, flags=re.I)
    return " ".join(re.sub(r"[?!]+", " ", topic).split()) or question.strip()


def _knowledge(asked: Asked) -> Plan | None:
    """A how-to, an error code or a pipeline, unless it names a workset, profile or function to look up."""
    q = asked.question
    if find.workset(q) or find.profile_refs(q) or find.address(q) or _pointed_workset(asked):
        return None
    return Plan((Call("search_knowledge", {"query": knowledge_topic(q.raw)}),))


RULES: tuple[tuple[str, Callable[[Asked], Plan | None]], ...] = (
    (r"cancel\w*|abort|terminate", _on_workset("cancel_workset")),
    (r"retry\w*|re-?run|re-?submit\w*|try (?:it )?again", _on_workset("retry_workset")),
    (KNOWLEDGE, _knowledge),
    (r"iss", _iss_job),
    (automation.TRIGGER, automation.automation),
    (r"diff|compare\w*|comparison|versus|vs|regress\w*", _diff),
    (r"0x[0-9a-f]+|function", _function),
    (r"recommend\w*|flags?|compiler|compile|-march|optimi[sz]\w*|tun(?:e|ing)", _recommendations),
    (r"avx[\s-]?\w*|zmm|ymm|xmm|vectori[sz]\w*|simd|sse\d*", _profile_tool("profile_vectorization")),
    (
        r"memory|cache[\s-]miss\w*|cache|page[\s-]walks?|tlb|cpi|bandwidth|stall\w*",
        _profile_tool("profile_memory"),
    ),
    (r"hot\w*|top|slowest|heaviest|bottlenecks?|cycle share|instruction counts?", _hotspots),
    (
        r"why|fail\w*|errors?|wrong|diagnos\w*|broke\w*|crash\w*|troubleshoot\w*|fix|what should i do",
        _on_workset("workset_diagnosis"),
    ),
    (r"estimat\w*|how long will|how much will", _on_workset("estimate_workset")),
    (r"queue\w*|cluster|nodes?|slurm|backlog", _queue),
    (
        r"status|state|progress|how is|how's|doing|finished|done|complete\w*|where is",
        _on_workset("workset_status"),
    ),
    (r"worksets?", _list_worksets),
    (r"invoices?|bill|billing|billed", _monthly("invoice")),
    (r"forecast\w*|projected|projection|predict\w*|end of (?:the )?month|on track", _fixed("cost_forecast")),
    (r"budgets?|burn\w*|overspend\w*", _fixed("budget_burn")),
    (r"quotas?|allowance|headroom|limits?", _fixed("quota_status")),
    (r"usage|used|consum\w*|gpu[\s-]hours?", _monthly("usage_summary")),
    (r"spend\w*|spent|costs?|costly|expens\w*|how much|dollars|money|charges?", _cost_by),
    (r"files?|fastq|bam|cram|vcf|bucket|objects?", _search_files),
)
