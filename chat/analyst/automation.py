"""Questions about the tenant's workload-automation (HWA/TWS) plan, as tool calls.

"What's the status of job PAYROLL_CALC in the plan?" looks one job up (``hwa_job``); "which jobs abended
tonight and why?" lists the abended jobs since last evening with their log tails (``hwa_jobs``); "are
the workstations linked?" or "is the engine up?" asks for its health (``hwa_engine``). A question that says
"ISS" never gets here: the ISS rule comes first.
"""

import re

from chat.analyst.entities import has
from chat.analyst.plan import Call, Plan

TRIGGER = (
    r"hwa|tws|workload automation|abend\w*|(?:in|of) the plan|current plan|job ?streams?|workstations?"
    r"|(?:scheduling|hwa|tws|automation) engine|engine"
)
JOB_NAME = re.compile(r"\bjob\s+(?:named\s+|called\s+)?[\"'`]?([A-Za-z0-9_][\w#.@*-]*)", re.I)
NOT_A_NAME = {"in", "of", "the", "is", "was", "status", "x"}
STATUS_WORDS = (
    (r"abend\w*", "ABENDED"),
    (r"fail\w*|errors?|broke\w*|crash\w*", "FAILED"),
    (r"running|executing|in progress", "RUNNING"),
    (r"on hold|held|holding", "HELD"),
    (r"succeeded|successful\w*|succ", "SUCCEEDED"),
    (r"waiting|pending", "WAITING"),
)
SINCE_WORDS = (
    (r"tonight|last night|overnight", "tonight"),
    (r"today|this morning", "today"),
    (r"yesterday", "yesterday"),
    (r"(?:last|past) hour", "last-hour"),
)


def automation(asked) -> Plan | None:
    """The HWA call a question needs, or None (the next rule's turn) when it is not about the plan."""
    text, raw = asked.question.text, asked.question.raw
    name = job_name(raw)
    if name and not has(text, r"jobs"):
        return Plan((Call("hwa_job", {"job": name}),))
    status = next((word for pattern, word in STATUS_WORDS if has(text, pattern)), None)
    since = next((word for pattern, word in SINCE_WORDS if has(text, pattern)), None)
    if status or since or has(text, r"jobs"):
        arguments = {"status": status, "since": since, "explain": has(text, r"why|reason|cause|explain")}
        return Plan((Call("hwa_jobs", {key: value for key, value in arguments.items() if value}),))
    return Plan((Call("hwa_engine", {}),))


def job_name(raw: str) -> str | None:
    """A job's name as HWA writes them ("job PAYROLL_CALC", "job ACCT#DAILY.LOAD"), not an ordinary word."""
    for match in JOB_NAME.finditer(raw):
        name = match[1].rstrip(".:-")
        if name.lower() not in NOT_A_NAME and (re.search(r"[A-Z_#]", name) or re.search(r"\d", name)):
            return name
    return None
