"""What the live pages of worksets receive: one message per change of a workset, sent after commit.

Consumers join ``group_name(schema, TOPIC)``; each message is ``{"type": "workset.update", "workset":
payload(workset)}``. The payload is all a list row, the detail page and the dashboard need to redraw.
"""

from portal.lib.live import send_after_commit

TOPIC = "worksets"
LOG_TAIL_BYTES = 4096


def payload(workset, *, log_tail: str | None = None) -> dict:
    steps = list(workset.steps.all())
    data = {
        "code": workset.code,
        "name": workset.name,
        "state": workset.state,
        "state_label": workset.get_state_display(),
        "cluster": workset.cluster,
        "current_step": workset.current_step,
        "progress": workset.progress,
        "steps": [{"name": step.name, "status": step.status, "exit_code": step.exit_code} for step in steps],
        "failure_code": workset.failure_code,
        "estimated_cost_usd": (workset.estimate or {}).get("cost_usd"),
        "measured_cost_usd": _text(workset.measured_cost_usd),
        "updated_at": workset.updated_at.isoformat() if workset.updated_at else None,
    }
    if log_tail is not None:
        data["log_tail"] = log_tail[-LOG_TAIL_BYTES:]
    return data


def announce(workset, *, log_tail: str | None = None) -> None:
    """Tell every open page of this tenant that ``workset`` changed (after the transaction commits)."""
    send_after_commit(TOPIC, {"type": "workset.update", "workset": payload(workset, log_tail=log_tail)})


def _text(value) -> str | None:
    return None if value is None else str(value)
