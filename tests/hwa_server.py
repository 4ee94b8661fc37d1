"""A real HTTP server on 127.0.0.1 speaking the HCL Workload Automation engine's REST API (``/twsd``), with
a small current plan. The paths and shapes are the ones ``jobs/automation/client.py`` documents.

The plan (all times UTC; "tonight" in the tests is from 2026-11-23 18:00):

============================  ==========  =====  =====================  ==========================
job (stream.job)              workstation status  ended                  notes
============================  ==========  =====  =====================  ==========================
NIGHTLY.ARCHIVE_LOGS          MASTER      ABEND  2026-11-23 05:03 rc 8  abended this morning
NIGHTLY.CLEANUP_TMP           MASTER      SUCC   2026-11-23 06:01 rc 0
NIGHTLY.EXTRACT_SALES         AGT_LNX01   SUCC   2026-11-23 18:42 rc 0
NIGHTLY.LOAD_DWH              AGT_LNX01   SUCC   2026-11-23 19:40 rc 0
PAYROLL.PAYROLL_CALC          AGT_LNX01   ABEND  2026-11-23 22:07 rc 12 log says why; follows LOAD_DWH
PAYROLL.PAYROLL_PRINT         AGT_LNX01   HOLD   —                      follows PAYROLL_CALC
REPORTS.DAILY_REPORT          AGT_WIN02   EXEC   started 2026-11-24 01:10
============================  ==========  =====  =====================  ==========================

Job streams: NIGHTLY is ABEND, PAYROLL STUCK, REPORTS EXEC. Workstations MASTER and AGT_LNX01 are linked,
AGT_WIN02 is not. Switches: ``fail(status, times)``
answers the next requests with an error, ``delay`` makes every answer slow; ``requests`` lists what came.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from tests.local_server import LocalServer

USERNAME = "wauser"
PASSWORD = "s3cr3t-hwa-engine-password"
D = "2026-11-23T"  # the evening of the plan
JOB_ID = "0c0ffee0-0000-4000-8000-00000000000"  # + the job's number, 1 to 7
STREAMS = ("NIGHTLY", "PAYROLL", "REPORTS")
PAYROLL_LOG = """===============================================================
= JOB       : AGT_LNX01#PAYROLL.PAYROLL_CALC
= USER      : payroll
= JCLFILE   : /opt/payroll/bin/calc.sh
= Job Number: 41230
===============================================================
Reading employees from /data/payroll/2026-11/employees.csv
Computing 1,284 payslips
ERROR: tax table /data/payroll/tax/2026.tbl not found
calc.sh: exit 12
===============================================================
= Exit Status           : 12
= Elapsed Time (hh:mm:ss) : 00:02:00
==============================================================="""


def _job(n, stream, name, workstation, status, started=None, ended=None, rc=None, deps=()):
    return {
        "id": f"{JOB_ID}{n}",
        "name": name,
        "internalStatus": status,
        "workstationKey": {"name": workstation},
        "jobStreamInPlan": {
            "id": f"5e55a000-0000-4000-8000-{STREAMS.index(stream):012d}",
            "name": stream,
            "startTime": D + "00:00:00Z",
            "workstationKey": {"name": "MASTER"},
        },
        "actualStart": started,
        "actualEnd": ended,
        "returnCode": rc,
        "dependencies": list(deps),
    }


def sample_plan() -> list[dict]:
    follows_load = {
        "dependencyType": "INTERNAL_JOB",
        "jobName": "LOAD_DWH",
        "jobStreamName": "NIGHTLY",
        "dependencyStatus": "SATISFIED",
        "satisfied": True,
    }
    follows_calc = {
        "dependencyType": "INTERNAL_JOB",
        "jobName": "PAYROLL_CALC",
        "jobStreamName": "PAYROLL",
        "dependencyStatus": "UNDECIDED",
        "satisfied": False,
    }
    return [
        _job(1, "NIGHTLY", "ARCHIVE_LOGS", "MASTER", "ABEND", D + "05:00:00Z", D + "05:03:00Z", 8),
        _job(2, "NIGHTLY", "CLEANUP_TMP", "MASTER", "SUCC", D + "06:00:00Z", D + "06:01:00Z", 0),
        _job(3, "NIGHTLY", "EXTRACT_SALES", "AGT_LNX01", "SUCC", D + "18:30:00Z", D + "18:42:00Z", 0),
        _job(4, "NIGHTLY", "LOAD_DWH", "AGT_LNX01", "SUCC", D + "19:00:00Z", D + "19:40:00Z", 0),
        _job(
            5, "PAYROLL", "PAYROLL_CALC", "AGT_LNX01", "ABEND",
            D + "22:05:00Z", D + "22:07:00Z", 12, deps=[follows_load],
        ),
        _job(6, "PAYROLL", "PAYROLL_PRINT", "AGT_LNX01", "HOLD", deps=[follows_calc]),
        _job(7, "REPORTS", "DAILY_REPORT", "AGT_WIN02", "EXEC", "2026-11-24T01:10:00Z"),
    ]  # fmt: skip


def sample_workstations() -> list[dict]:
    return [
        {"id": "w-1", "name": "MASTER", "type": "MASTER", "linked": True, "running": True},
        {"id": "w-2", "name": "AGT_LNX01", "type": "FTA", "linked": True, "running": True},
        {"id": "w-3", "name": "AGT_WIN02", "type": "FTA", "linked": False, "running": False},
    ]


ENGINE_INFO = {
    "engineVersion": "10.2.5",
    "engineType": "DISTRIBUTED",
    "masterDomainManager": "MASTER",
    "planStartTime": D + "00:00:00Z",
    "planEndTime": "2026-11-24T00:00:00Z",
}


@dataclass
class HwaServer(LocalServer):
    jobs: list[dict] = field(default_factory=sample_plan)
    workstations: list[dict] = field(default_factory=sample_workstations)
    logs: dict[str, str] = field(default_factory=lambda: {f"{JOB_ID}5": PAYROLL_LOG})
    stream_statuses: dict[str, str] = field(
        default_factory=lambda: {"NIGHTLY": "ABEND", "PAYROLL": "STUCK", "REPORTS": "EXEC"}
    )
    delay: float = 0.0
    requests: list[tuple[str, str, dict]] = field(default_factory=list)

    def __post_init__(self):
        super().__post_init__()
        self._failures: list[int] = []

    def fail(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def job_id(self, name: str) -> str:
        return next(job["id"] for job in self.jobs if job["name"] == name)

    # Protocol

    def _authorised(self, authorization: str) -> bool:
        if not authorization.startswith("Basic "):
            return False
        return base64.b64decode(authorization[6:]).decode() == f"{USERNAME}:{PASSWORD}"

    def _next_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _get(self, parts: list[str]) -> tuple[int, object]:
        if parts == ["twsd", "engine", "info"]:
            return 200, ENGINE_INFO
        if parts[:4] == ["twsd", "plan", "current", "job"] and len(parts) in (5, 6):
            found = [job for job in self.jobs if job["id"] == parts[4]]
            if not found:
                return 404, {"messages": ["AWSJCO005E The job was not found in the plan."]}
            if len(parts) == 5:
                return 200, found[0]
            if parts[5] == "joblog":
                return 200, {"log": self.logs.get(parts[4], "")}
        return 404, {"messages": ["no such path"]}

    def _query(self, parts: list[str], body: dict, how_many: int) -> tuple[int, object]:
        if parts[:3] != ["twsd", "plan", "current"] or len(parts) != 5 or parts[4] != "query":
            return 404, {"messages": ["no such path"]}
        filters = body.get("filters") or {}
        if parts[3] == "job":
            wanted = filters.get("jobInPlanFilter") or {}
            rows = [job for job in self.jobs if _job_matches(job, wanted)]
        elif parts[3] == "workstation":
            pattern = (filters.get("workstationInPlanFilter") or {}).get("workstationName", "@")
            rows = [ws for ws in self.workstations if _like(ws["name"], pattern)]
        elif parts[3] == "jobstream":
            pattern = (filters.get("jobStreamInPlanFilter") or {}).get("jobStreamName", "@")
            streams = {job["jobStreamInPlan"]["name"]: job["jobStreamInPlan"] for job in self.jobs}
            rows = [
                {**stream, "internalStatus": self.stream_statuses.get(name, "READY")}
                for name, stream in sorted(streams.items())
                if _like(name, pattern)
            ]
        else:
            return 404, {"messages": ["no such path"]}
        return 200, rows[:how_many]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _start(self) -> list[str] | None:
                path = urlsplit(self.path).path
                body = {}
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    body = json.loads(self.rfile.read(length).decode() or "{}")
                with server._lock:
                    server.requests.append((self.command, path, body))
                if server.delay:
                    time.sleep(server.delay)
                if not server._authorised(self.headers.get("Authorization", "")):
                    self._send(401, {"messages": ["AWSJCS011E Authentication failed."]})
                    return None
                failure = server._next_failure()
                if failure:
                    self._send(failure, {"messages": ["scripted failure"]})
                    return None
                self._body = body
                return [unquote(part) for part in path.split("/") if part]

            def do_GET(self):
                parts = self._start()
                if parts is not None:
                    self._send(*server._get(parts))

            def do_POST(self):
                parts = self._start()
                if parts is not None:
                    how_many = int(self.headers.get("How-Many") or 500)
                    self._send(*server._query(parts, self._body, how_many))

            def _send(self, status: int, body: object):
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def _like(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value.upper(), pattern.upper().replace("@", "*"))


def _job_matches(job: dict, wanted: dict) -> bool:
    checks = {
        "jobName": job["name"],
        "jobStreamName": job["jobStreamInPlan"]["name"],
        "workstationName": job["workstationKey"]["name"],
    }
    return all(_like(checks[key], pattern) for key, pattern in wanted.items() if key in checks)
