"""What a notification says, from its stored payload alone (pure Python, no Django).

Every text names the event, the workset (name and code) and links to its page, so a message read in Slack
or a mailbox leads straight to the workset. The payload's shape is built by ``services.build_payload``.
"""

from jobs.diagnostics import BY_CODE

FAILURE_EVENTS = frozenset({"failed", "retrying", "dead_lettered"})
HEADLINES = {
    "started": "{workset} started",
    "step_completed": "{workset}: step {step} completed",
    "completed": "{workset} completed",
    "failed": "{workset} failed",
    "retrying": "{workset} failed and will be retried",
    "dead_lettered": "{workset} moved to the dead-letter queue",
    "budget": "{tenant}: {threshold} % of this month's budget spent",
    "test": "Test notification from Runyard ({tenant})",
}


def _workset_label(payload: dict) -> str:
    workset = payload.get("workset") or {}
    if not workset:
        return "A workset"
    return f"Workset “{workset.get('name', '')}” ({workset.get('code', '')})"


def headline(payload: dict) -> str:
    """One line: what happened to which workset."""
    details = payload.get("details") or {}
    template = HEADLINES.get(payload.get("event", ""), "{workset}: {event}")
    return template.format(
        workset=_workset_label(payload),
        tenant=(payload.get("tenant") or {}).get("name", ""),
        event=payload.get("event", ""),
        step=details.get("step", "?"),
        threshold=details.get("threshold", "?"),
    )


def diagnosis_code(payload: dict) -> str:
    """The engine's detail, else (for a failure) what the workset stored about its last failure."""
    code = (payload.get("details") or {}).get("diagnosis_code")
    if not code and payload.get("event") in FAILURE_EVENTS:
        code = (payload.get("workset") or {}).get("failure_code")
    return code or ""


def diagnosis_line(payload: dict) -> str:
    code = diagnosis_code(payload)
    if not code:
        return ""
    entry = BY_CODE.get(code)
    return f"{code} — {entry.name}" if entry else code


def detail_lines(payload: dict) -> list[str]:
    """The facts worth a line each, in reading order; absent ones are left out."""
    details = payload.get("details") or {}
    workset = payload.get("workset") or {}
    step = details.get("step")
    if not step and payload.get("event") in FAILURE_EVENTS:
        step = workset.get("failed_step")
    facts = [
        ("Step", step if payload.get("event") != "step_completed" else ""),
        ("Diagnosis", diagnosis_line(payload)),
        ("Reason", details.get("reason")),
        ("Cluster", details.get("cluster")),
        ("Attempt", details.get("attempt")),
        ("Next try at", details.get("retry_at")),
        ("Cost", f"${details['cost_usd']}" if details.get("cost_usd") not in (None, "") else ""),
        ("Pipeline", workset.get("pipeline")),
        ("Priority", workset.get("priority") if workset.get("priority") not in (None, "normal") else ""),
    ]
    return [f"{label}: {value}" for label, value in facts if value not in (None, "")]


def plain_text(payload: dict) -> str:
    """Email bodies and Slack messages."""
    lines = [headline(payload) + ".", "", *detail_lines(payload)]
    if payload.get("url"):
        lines += ["", f"Open: {payload['url']}"]
    return "\n".join(lines).strip() + "\n"


def slack_message(payload: dict) -> dict:
    """Slack incoming-webhook body: ``text`` for notifications and clients without blocks, plus blocks."""
    title = headline(payload)
    link = f"<{payload['url']}|{title}>" if payload.get("url") else title
    facts = "\n".join(detail_lines(payload))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{link}*"}}]
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": facts}})
    return {"text": f"{title} {payload.get('url', '')}".strip(), "blocks": blocks}


def markdown(payload: dict) -> str:
    """Linear issue descriptions: the facts, the diagnosis and what to do about it."""
    parts = [f"**{headline(payload)}**"]
    if payload.get("url"):
        parts.append(f"[Open the workset in Runyard]({payload['url']})")
    facts = detail_lines(payload)
    if facts:
        parts.append("\n".join(f"- {fact}" for fact in facts))
    entry = BY_CODE.get(diagnosis_code(payload))
    if entry:
        steps = "\n".join(f"{n}. {step}" for n, step in enumerate(entry.remediation, start=1))
        parts.append(f"### Diagnosis {entry.code}: {entry.name}\n\n{entry.description}\n\n{steps}")
    return "\n\n".join(parts) + "\n"


def linear_priority(payload: dict) -> int:
    """Linear's scale: 1 urgent, 2 high. Urgent worksets are urgent issues; other failures high."""
    return 1 if (payload.get("workset") or {}).get("priority") == "urgent" else 2
