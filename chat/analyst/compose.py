"""The built-in analyst's answer: the tools' own results put together as Markdown, and cut for streaming.

Every figure in an answer comes from a tool result's ``text`` or ``data``; this module adds only headings
(what was looked up, from the call's arguments) and plain sentences about refusals, truncation and what the
question asked that no tool answers. A result is anything with ``tool``, ``text``, ``data``, ``links`` and
``truncated``; a refusal is the tool's error message as a string.
"""

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from chat.analyst.plan import Answer, Call, Plan

TITLES = {
    "list_worksets": "Worksets",
    "workset_status": "Status of workset {workset}",
    "workset_diagnosis": "Diagnosis of workset {workset}",
    "queue_status": "Queue and cluster status",
    "estimate_workset": "Estimate for workset {workset}",
    "profile_hotspots": "Hottest {by} in {profile}",
    "profile_vectorization": "Vectorization in {profile}",
    "profile_memory": "Memory bottlenecks in {profile}",
    "profile_recommendations": "Compiler-flag advice for {profile}",
    "profile_function": "Function {function} in {profile}",
    "profile_diff": "{profile} compared with {against}",
    "cost_by": "Cost by {group_by}",
    "budget_burn": "Budget burn",
    "cost_forecast": "Cost forecast",
    "usage_summary": "Usage",
    "quota_status": "Quotas",
    "invoice": "Invoice",
    "search_files": "Files matching “{query}”",
    "iss_job": "ISS job {job_id}",
    "hwa_engine": "Workload-automation engine",
    "hwa_jobs": "Jobs in the current plan",
    "hwa_job": "Job {job} in the current plan",
    "search_knowledge": "Knowledge base: “{query}”",
    "cancel_workset": "Cancel workset {workset}",
    "retry_workset": "Retry workset {workset}",
}
LEVELS = {"function": "functions", "block": "basic blocks", "line": "source lines"}
TRUNCATED = "_This result was cut to fit; the linked page has the rest._"
LIST_ITEM = re.compile(r"(?:[-*+]|\d+[.)])\s")
MAX_ROWS, MAX_COLUMNS = 20, 8


class _Arguments(dict):
    """Arguments as the heading reads them: "the latest profile", "basic blocks", "team and model"."""

    def __missing__(self, key: str) -> str:
        return "?"

    def __getitem__(self, key: str) -> str:
        value = super().__getitem__(key) if key in self else self.__missing__(key)
        if key in ("profile", "against"):
            return "the latest profile" if value == "latest" else f"profile {value}"
        if key == "by":
            return LEVELS.get(value, str(value))
        return " and ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def title(call: Call) -> str:
    """What was looked up, in words, with the qualifiers the question gave (count, period, month, target)."""
    arguments = dict(call.arguments)
    arguments.setdefault("by", "function")
    arguments.setdefault("profile", "latest")
    heading = TITLES.get(call.tool, call.tool.replace("_", " ").capitalize()).format_map(
        _Arguments(arguments)
    )
    return heading + "".join(_qualifiers(call.arguments))


def _qualifiers(arguments) -> Iterator[str]:
    if arguments.get("limit"):
        yield f", top {arguments['limit']}"
    if arguments.get("start") or arguments.get("end"):
        yield f", {arguments.get('start') or '…'} to {arguments.get('end') or '…'}"
    for key, words in (("month", "for"), ("state", "state"), ("target", "target"), ("provider", "provider")):
        if arguments.get(key):
            yield f", {words} {arguments[key]}"
    if arguments.get("gpu_type"):
        yield f", GPU type {arguments['gpu_type']}"


def compose(question: str, plan: Plan, results: Sequence[Any]) -> Answer:
    """One section per call, in the plan's order, then the links, then what could not be answered."""
    sections, links, cited = [], [], []
    if plan.notes:
        sections.append("_You described the workload as " + " and ".join(plan.notes) + "._")
    for index, call in enumerate(plan.calls):
        result = results[index] if index < len(results) else None
        sections.append(_section(call, result, plan))
        if result is not None and not isinstance(result, str):
            cited.append(call.tool)
            links.extend((str(label), str(path)) for label, path in (getattr(result, "links", None) or ()))
    links = list(dict.fromkeys(links))
    if links:
        sections.append("**Links**\n" + "\n".join(f"- [{_cell(label)}]({path})" for label, path in links))
    if plan.unanswered:
        sections.append(plan.unanswered)
    markdown = "\n\n".join(sections) or "I found nothing to look up for that question."
    return Answer(markdown, tuple(links), tuple(dict.fromkeys(cited)))


def _section(call: Call, result: Any, plan: Plan) -> str:
    """A heading and the result's own text; a refusal or a missing result said in a plain sentence."""
    heading = f"### Looked up: {title(call)}"
    if isinstance(result, str):
        reason = result.strip().rstrip(".") or "the tool gave no reason"
        return f"{heading}\n\nI could not look up {_lower_first(title(call))} because {_lower_first(reason)}."
    if result is None:
        if plan.needs_confirmation:
            return f"{heading}\n\nThis changes something, so it waits until you confirm it."
        return f"{heading}\n\nI did not get a result for this."
    body = _lists_apart((getattr(result, "text", "") or "").strip()) or render_data(
        getattr(result, "data", None)
    )
    parts = [heading, body or "The tool found nothing."]
    if getattr(result, "truncated", False):
        parts.append(TRUNCATED)
    return "\n\n".join(parts)


def _lists_apart(text: str) -> str:
    """A line right after a list item that is not an item itself starts a paragraph of its own (Markdown
    would run it into the item: "- last step Log lines:")."""
    lines: list[str] = []
    for line in text.splitlines():
        if lines and line[:1].strip() and not LIST_ITEM.match(line) and LIST_ITEM.match(lines[-1]):
            lines.append("")
        lines.append(line)
    return "\n".join(lines)


def _lower_first(text: str) -> str:
    """Lower-case a leading capital of a sentence ("The profile…") but leave names and codes ("ISS", "X")."""
    return text[0].lower() + text[1:] if re.match(r"[A-Z][a-z]", text) else text


def render_data(data: Any) -> str:
    """Structured data as Markdown when a tool gave no text: rows as a table, a record as a list."""
    if not data:
        return ""
    if isinstance(data, dict):
        return "\n".join(f"- **{_cell(key)}**: {_cell(value)}" for key, value in data.items())
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return _table(data)
    if isinstance(data, list):
        return "\n".join(f"- {_cell(item)}" for item in data[:MAX_ROWS])
    return _cell(data)


def _table(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(key for row in rows[:MAX_ROWS] for key in row))[:MAX_COLUMNS]
    lines = ["| " + " | ".join(map(_cell, columns)) + " |", "|" + " --- |" * len(columns)]
    lines += [
        "| " + " | ".join(_cell(row.get(column, "")) for column in columns) + " |" for row in rows[:MAX_ROWS]
    ]
    if len(rows) > MAX_ROWS:
        lines.append("\n_More rows than shown here; the linked page has them all._")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A value exactly as the tool gave it (no rounding), on one line, with table pipes escaped."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return re.sub(r"\s*\n\s*", " ", text).replace("|", "\\|")


def chunks(markdown: str, size: int = 16) -> Iterator[str]:
    """Pieces of at most ``size`` characters, broken after whitespace where possible, that join back exactly.

    The websocket streams these one by one so the answer appears as it would from a model.
    """
    piece = ""
    for token in re.findall(r"\S+\s*|\s+", markdown):
        if piece and len(piece) + len(token) > size:
            yield piece
            piece = ""
        while len(token) > size:
            yield token[:size]
            token = token[size:]
        piece += token
    if piece:
        yield piece
