"""A small, read-only client for an HCL Workload Automation (HWA, formerly IBM Tivoli Workload Scheduler)
engine's REST API. No Django here: the portal builds an ``HwaConfig`` per tenant and hands it to
``HwaClient``.

The endpoints, as HCL documents them (the engine's REST API is served under ``/twsd`` on the master domain
manager's HTTPS port, 31116 by default, with a Swagger UI at ``https://<host>:<port>/twsd``):

- ``GET /twsd/engine/info`` — "Get Engine Info" (EngineInfo), HCL Workload Automation API reference,
  https://help.hcl-software.com/workloadautomation/v102/IWS_API3_all_dist.html
- ``POST /twsd/plan/current/workstation/query`` with ``{"filters": {"workstationInPlanFilter": {...}}}``,
  ``POST /twsd/plan/current/job/query`` with ``{"filters": {"jobInPlanFilter": {...}}}`` and
  ``POST /twsd/plan/current/jobstream/query`` with ``{"filters": {"jobStreamInPlanFilter": {...}}}``; the
  ``How-Many`` header caps the answer, a JSON array. HCL's own samples use exactly these calls
  (github.com/WorkloadAutomation/TWS_REST_API_Python_samples: ``queryJS.py``, ``rerun.py``, ``switchmgr.py``).
- ``GET /twsd/plan/current/job/{jobId}`` (a job in the plan) and ``GET /twsd/plan/current/job/{jobId}/joblog``
  (its job log: JSON ``{"log": "..."}``, as HCL's joblog sample reads it, or plain text).
- Dependencies: a plan object's ``dependencies`` array, each with ``dependencyType``, ``jobName``,
  ``jobStreamName``, ``dependencyStatus`` (and ``satisfied``), as "REST API - retrieving the predecessors of
  a job stream in the plan" shows for ``/twsd/api/v2/plan/jobstream``
  (https://help.hcl-software.com/workloadautomation/v1026/common/src_dgd/awsddapigetjspredecessors.html).
- Statuses: a plan job's ``internalStatus`` (ABEND, ABENP, CANCL, DONE, ERROR, EXEC, EXTRN, FAIL, FENCE,
  HOLD, INTRO, PEND, READY, SCHED, SUCC, SUCCP, SUSP, USER, WAIT…) and its coarser ``status`` (ERROR, HELD,
  READY, RUNNING, SUCCESSFUL, UNDECIDED, WAITING), as the plan's job properties list them
  (https://workloadautomation.hcldoc.com/help/topic/com.hcl.wa.doc_9.4/common/src_dgd/awsddjobservgetprops.html).

Runyard's assumptions, where the documentation at hand is silent:

- Authentication is HTTP Basic with the engine user and password (HCL's samples); with no user name the
  secret is an API key sent as ``Authorization: Bearer``.
- A plan job names its job stream in ``jobStreamInPlan`` (``name``, ``startTime``, ``workstationKey.name``,
  as the samples read it), its own workstation in ``workstationKey.name`` (falling back to the job
  stream's), its times in ``actualStart``/``actualEnd`` and its return code in ``returnCode``.
- A plan workstation has ``name``, ``type`` and ``linked`` (boolean); ``running`` when given.
- Filter values are sent as given except that ``*`` becomes HWA's wildcard ``@``.

Only reads: this client has no method that changes the plan. Errors keep their type, messages name the
host and path (never the query body, the password or an upstream body).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

MAX_HOW_MANY = 500
API_PREFIX = "twsd"


class HwaError(Exception):
    """Anything the HWA connector could not do; the message is safe to show to a user."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class HwaAuthError(HwaError):
    """401/403: the engine refused the user, password or API key."""


class HwaNotFound(HwaError):
    """404: no such job (or path) on the engine."""


class HwaUpstreamError(HwaError):
    """5xx, an unexpected 4xx, or an answer that is not the JSON the API promises."""


class HwaUnreachable(HwaError):
    """Timeout or connection failure: the engine never answered."""


SecretSource = str | Callable[[], str]


@dataclass(frozen=True)
class HwaConfig:
    base_url: str
    username: str
    secret: SecretSource = field(repr=False)
    timeout: float = 5.0
    connect_timeout: float = 3.0

    def password(self) -> str:
        """A callable source is asked on every request, so a rotated secret is picked up."""
        return self.secret() if callable(self.secret) else self.secret


class HwaClient:
    def __init__(self, config: HwaConfig, *, transport: httpx.BaseTransport | None = None):
        self.config = config
        timeout = httpx.Timeout(config.timeout, connect=min(config.connect_timeout, config.timeout))
        self.http = httpx.Client(timeout=timeout, trust_env=False, transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HwaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Engine

    def engine_info(self) -> dict[str, Any]:
        """``GET /twsd/engine/info``."""
        data = self._request("GET", "engine", "info")
        if not isinstance(data, dict):
            raise HwaUpstreamError("The HWA engine answered engine/info with JSON that is not an object")
        return data

    # Current plan

    def workstations(self, *, name: str = "@", how_many: int = MAX_HOW_MANY) -> list[dict[str, Any]]:
        """``POST /twsd/plan/current/workstation/query`` (workstationInPlanFilter)."""
        body = {"filters": {"workstationInPlanFilter": {"workstationName": _wildcard(name)}}}
        return self._query("workstation", body, how_many)

    def jobs(
        self,
        *,
        job_name: str | None = None,
        job_stream: str | None = None,
        workstation: str | None = None,
        how_many: int = MAX_HOW_MANY,
    ) -> list[dict[str, Any]]:
        """``POST /twsd/plan/current/job/query`` (jobInPlanFilter); statuses are filtered by the caller."""
        wanted = {"jobName": job_name, "jobStreamName": job_stream, "workstationName": workstation}
        given = {key: _wildcard(value) for key, value in wanted.items() if value}
        return self._query("job", {"filters": {"jobInPlanFilter": given}}, how_many)

    def job_streams(self, *, name: str = "@", how_many: int = MAX_HOW_MANY) -> list[dict[str, Any]]:
        """``POST /twsd/plan/current/jobstream/query`` (jobStreamInPlanFilter)."""
        body = {"filters": {"jobStreamInPlanFilter": {"jobStreamName": _wildcard(name)}}}
        return self._query("jobstream", body, how_many)

    def job(self, job_id: str) -> dict[str, Any]:
        """``GET /twsd/plan/current/job/{jobId}``."""
        data = self._request("GET", "plan", "current", "job", job_id)
        if not isinstance(data, dict):
            raise HwaUpstreamError("The HWA engine answered with a job that is not a JSON object")
        return data

    def job_log(self, job_id: str) -> str:
        """``GET /twsd/plan/current/job/{jobId}/joblog``: the log text."""
        data = self._request("GET", "plan", "current", "job", job_id, "joblog", text=True)
        if isinstance(data, dict):
            return str(data.get("log") or "")
        return str(data)

    # Plumbing

    def _query(self, kind: str, body: dict, how_many: int) -> list[dict[str, Any]]:
        if not 1 <= how_many <= MAX_HOW_MANY:
            raise ValueError(f"how_many must be between 1 and {MAX_HOW_MANY}, not {how_many}")
        data = self._request(
            "POST", "plan", "current", kind, "query", json=body, headers={"How-Many": str(how_many)}
        )
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise HwaUpstreamError(f"The HWA engine answered the {kind} query with something not a list")
        return data

    def _request(self, method: str, *parts: str, text: bool = False, **kwargs: Any) -> Any:
        url = _url(self.config.base_url, API_PREFIX, *parts)
        headers = {"Accept": "application/json", **self._auth(), **kwargs.pop("headers", {})}
        try:
            response = self.http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as error:
            raise HwaUnreachable(
                f"The HWA engine timed out at {_where(url)} ({type(error).__name__})"
            ) from None
        except httpx.TransportError as error:
            raise HwaUnreachable(
                f"The HWA engine could not be reached at {_where(url)} ({type(error).__name__})"
            ) from None
        if not response.is_success:
            raise _error_for(response.status_code, url)
        if text and "json" not in response.headers.get("content-type", ""):
            return response.text
        try:
            return response.json()
        except ValueError:
            raise HwaUpstreamError(f"The HWA engine answered {_where(url)} with something not JSON") from None

    def _auth(self) -> dict[str, str]:
        secret = self.config.password()
        if self.config.username:
            pair = f"{self.config.username}:{secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {"Authorization": f"Bearer {secret}"}


def _error_for(status: int, url: str) -> HwaError:
    where = _where(url)
    if status in (401, 403):
        return HwaAuthError(
            f"The HWA engine refused the credentials (HTTP {status}) at {where}; check the user and password",
            status=status,
        )
    if status == 404:
        return HwaNotFound(f"The HWA engine has nothing at {where} (HTTP 404)", status=404)
    kind = "failed" if status >= 500 else "refused the request"
    return HwaUpstreamError(f"The HWA engine {kind} (HTTP {status}) at {where}", status=status)


def _where(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}{parsed.path}"


def _url(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(quote(part, safe="") for part in parts)])


def _wildcard(value: str) -> str:
    return value.replace("*", "@")
