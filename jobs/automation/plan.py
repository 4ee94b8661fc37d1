"""An HWA plan in plain words: statuses, jobs and workstations as flat rows, and the filters the chat and
the dashboard apply to them. No Django, no HTTP: the rows come from ``jobs.automation.client``.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

# internalStatus → (plain words, category); categories are what the dashboard's chart counts.
STATUSES: dict[str, tuple[str, str]] = {
    "SUCC": ("succeeded", "succeeded"),
    "SUCCP": ("succeeded, waiting for the final confirmation", "running"),
    "DONE": ("done", "succeeded"),
    "ABEND": ("abended (ended with an error)", "failed"),
    "ABENP": ("abending (abend confirmation pending)", "failed"),
    "FAIL": ("failed to launch", "failed"),
    "ERROR": ("in error", "failed"),
    "EXEC": ("running", "running"),
    "INTRO": ("being launched", "running"),
    "WAIT": ("waiting to start", "waiting"),
    "HOLD": ("on hold, waiting for its dependencies", "waiting"),
    "READY": ("ready to run (dependencies met)", "waiting"),
    "SCHED": ("waiting for its start time", "waiting"),
    "PEND": ("waiting for a confirmation", "waiting"),
    "FENCE": ("held by the workstation's fence", "waiting"),
    "USER": ("waiting for a user", "waiting"),
    "BOUND": ("bound to a shadow job", "waiting"),
    "EXTRN": ("external (a job in another plan)", "waiting"),
    "SUSP": ("suspended", "waiting"),
    "STUCK": ("stuck (a job abended and the rest cannot run)", "failed"),
    "CANCL": ("cancelled", "cancelled"),
    "CANCP": ("cancel pending", "cancelled"),
}
# The coarser "status" field, for engines that send only it.
COARSE = {
    "SUCCESSFUL": "SUCC",
    "ERROR": "ABEND",
    "RUNNING": "EXEC",
    "HELD": "HOLD",
    "READY": "READY",
    "WAITING": "WAIT",
    "CANCELED": "CANCL",
    "CANCELLED": "CANCL",
}
CATEGORIES = ("succeeded", "failed", "running", "waiting", "cancelled", "other")
# Words a user may type for a status; each maps to the internal codes it covers.
STATUS_WORDS: dict[str, tuple[str, ...]] = {
    **{code: (code,) for code in STATUSES},
    "ABENDED": ("ABEND", "ABENP"),
    "FAILED": ("ABEND", "ABENP", "FAIL", "ERROR"),
    "RUNNING": ("EXEC", "INTRO", "SUCCP"),
    "SUCCEEDED": ("SUCC", "DONE"),
    "SUCCESSFUL": ("SUCC", "DONE"),
    "HELD": ("HOLD",),
    "WAITING": ("WAIT", "HOLD", "READY", "SCHED", "PEND", "FENCE", "USER", "BOUND", "EXTRN", "SUSP"),
    "CANCELLED": ("CANCL", "CANCP"),
}
EVENING = time(18, 0)


def status_codes(word: str) -> tuple[str, ...]:
    """The internal codes a status word covers; ValueError names the accepted words."""
    codes = STATUS_WORDS.get(word.strip().upper())
    if codes is None:
        raise ValueError(f"Unknown HWA status {word!r}; use one of {', '.join(sorted(STATUS_WORDS))}")
    return codes


def internal_status(raw: dict[str, Any]) -> str:
    code = str(raw.get("internalStatus") or "").upper()
    if code:
        return code
    return COARSE.get(str(raw.get("status") or "").upper(), "UNKNOWN")


def words(code: str) -> str:
    return STATUSES.get(code, (f"in status {code}", "other"))[0]


def category(code: str) -> str:
    return STATUSES.get(code, ("", "other"))[1]


def job_row(raw: dict[str, Any]) -> dict[str, Any]:
    """A plan job as the portal shows it: names, status code and words, times, return code."""
    stream = raw.get("jobStreamInPlan") or {}
    stream_ws = (stream.get("workstationKey") or {}).get("name") or ""
    code = internal_status(raw)
    return {
        "id": str(raw.get("id") or ""),
        "name": str(raw.get("name") or ""),
        "job_stream": str(stream.get("name") or ""),
        "workstation": str((raw.get("workstationKey") or {}).get("name") or stream_ws),
        "scheduled": stream.get("startTime"),
        "status": code,
        "status_words": words(code),
        "category": category(code),
        "started": raw.get("actualStart"),
        "ended": raw.get("actualEnd"),
        "return_code": raw.get("returnCode"),
    }


def full_name(row: dict[str, Any]) -> str:
    """HWA's own notation: ``WORKSTATION#JOBSTREAM.JOB``."""
    stream = f"{row['job_stream']}." if row["job_stream"] else ""
    return f"{row['workstation']}#{stream}{row['name']}" if row["workstation"] else f"{stream}{row['name']}"


def stream_row(raw: dict[str, Any], jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """A plan job stream with its status in words and its jobs counted by category (from ``jobs``)."""
    code = internal_status(raw)
    name = str(raw.get("name") or "")
    mine = [row for row in jobs if row["job_stream"] == name]
    return {
        "name": name,
        "workstation": str((raw.get("workstationKey") or {}).get("name") or ""),
        "scheduled": raw.get("startTime"),
        "status": code,
        "status_words": words(code),
        "category": category(code),
        "jobs": len(mine),
        "jobs_by_category": by_category(mine),
    }


def workstation_row(raw: dict[str, Any]) -> dict[str, Any]:
    linked = raw.get("linked")
    if linked is None and raw.get("linkStatus") is not None:
        linked = str(raw["linkStatus"]).upper() == "LINKED"
    return {
        "name": str(raw.get("name") or ""),
        "type": str(raw.get("type") or ""),
        "linked": bool(linked),
        "running": raw.get("running"),
    }


def dependency_row(raw: dict[str, Any]) -> dict[str, Any]:
    satisfied = raw.get("satisfied")
    state = str(raw.get("dependencyStatus") or "").upper()
    if satisfied is None:
        satisfied = state in ("SATISFIED", "RELEASED", "SUCC")
    what = raw.get("jobName") or raw.get("jobStreamName") or raw.get("resourceName") or raw.get("name") or ""
    stream = raw.get("jobStreamName") if raw.get("jobName") else None
    return {
        "type": str(raw.get("dependencyType") or ""),
        "on": f"{stream}.{what}" if stream else str(what),
        "status": state,
        "satisfied": bool(satisfied),
    }


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(row: dict[str, Any]) -> datetime | None:
    """The latest thing that happened to the job: its end, else its start, else its scheduled time."""
    return parse_time(row["ended"]) or parse_time(row["started"]) or parse_time(row["scheduled"])


@dataclass(frozen=True)
class Since:
    start: datetime
    label: str


def since(value: str, *, today: date, now: datetime) -> Since:
    """``tonight`` (from 18:00 UTC last evening, or this evening once it is past 18:00), ``today``,
    ``yesterday``, ``last-hour``/``last-24h``, or an ISO date-time."""
    key = value.strip().lower().replace(" ", "-")
    if key in ("tonight", "last-night", "overnight"):
        day = today if now.date() == today and now.time() >= EVENING else today - timedelta(days=1)
        start = datetime.combine(day, EVENING, UTC)
        return Since(start, f"since {start:%Y-%m-%d %H:%M} UTC (tonight)")
    if key in ("today", "yesterday"):
        day = today if key == "today" else today - timedelta(days=1)
        start = datetime.combine(day, time(0, 0), UTC)
        return Since(start, f"since {start:%Y-%m-%d} 00:00 UTC ({key})")
    if key in ("last-hour", "last-24h"):
        start = now - (timedelta(hours=1) if key == "last-hour" else timedelta(days=1))
        return Since(start, f"since {start:%Y-%m-%d %H:%M} UTC")
    start = parse_time(value)
    if start is None:
        raise ValueError(
            f"{value!r} is not a time; say tonight, today, yesterday, last-hour, or a date-time like "
            "2026-11-23T18:00"
        )
    return Since(start, f"since {start:%Y-%m-%d %H:%M} UTC")


def matches(row: dict[str, Any], *, codes=None, pattern=None, workstation=None, after=None) -> bool:
    if codes and row["status"] not in codes:
        return False
    if pattern and not fnmatch.fnmatchcase(row["name"].upper(), pattern.upper().replace("@", "*")):
        return False
    if workstation and row["workstation"].upper() != workstation.upper():
        return False
    if after is not None:
        moment = when(row)
        return moment is not None and moment >= after
    return True


def by_category(rows: list[dict[str, Any]]) -> dict[str, int]:
    counted = Counter(row["category"] for row in rows)
    return {name: counted.get(name, 0) for name in CATEGORIES if counted.get(name) or name != "other"}


def by_status(rows: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(row["status"] for row in rows).items()))


def tail(text: str, lines: int = 20) -> str:
    kept = [line.rstrip() for line in text.rstrip().splitlines()][-lines:]
    return "\n".join(kept)
