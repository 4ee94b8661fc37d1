"""A small, typed client for the Intel Simulation Service (ISS) and its file service.

No Django here: the portal builds an ``IssConfig`` per tenant and hands it to ``IssClient``.

The protocol, as the Workload Analyzer prior art documents it (``/work/shared/reference/prior-art.md`` §2):

- ``GET {base}/v1/jobs`` with ``Limit`` (1–100), ``JobRequestStatus``, ``JobRequestID``,
  ``Type`` (comma list), ``Queue``, ``RequestedBy``, ``ParentInstanceID``, ``WorkloadJobROIID``,
  ``ContinuationToken``; the answer has ``Jobs``, ``Count`` and ``ContinuationToken`` (opaque, passed back
  verbatim). A job's ``Metadata`` object is flattened into ``RequestedOn``, ``LastUpdatedOn``,
  ``RequestedBy``, ``LastUpdatedBy``.
- ``GET {base}/v1/jobs/job/{id}``, ``GET {base}/v1/platforms`` (``Platforms``),
  ``GET {base}/v1/platforms/platform/{id}``.
- File service on the per-tenant host (``https://gw-<tenant>.simicsservice.intel.com``): list
  ``fs/files/{job}/{type}/artifacts/out[/<sub>]`` (JSON ``files``), or ``fs/files/{job}/logs``
  (JSON ``children``) for WorkloadJob/WorkloadJobROI; download ``fs/files/{job}/{type}/artifacts/out/<file>``.
  The artifact ``type`` comes from the job type: ISIM→isim, NovaCoho→coho, IWPS→iwps,
  WorkloadJob→workloadjob, WorkloadJobROI→workloadjobroi, anything else→iwps.
- OAuth2 client credentials: form POST of ``grant_type=client_credentials``, ``client_id``, ``client_secret``
  (+ ``scope``) to the token URL; the token is cached until 90 % of ``expires_in`` (default 3600) and sent as
  ``Authorization: Bearer``.

Runyard's assumptions, where the notes are silent:

- The job-definition schema is ``GET {base}/v1/jobs/schema`` (the prior art's README names an endpoint for
  it, its code has none).
- File-service paths hang off the file-service host's root (no ``/v1``); a ``files`` entry is either a name
  or an object with ``name``/``Name`` and an optional ``size``/``Size``; a ``children`` entry likewise.
- Only one ``JobRequestStatus`` is sent per request; statuses are validated, job types are not (the prior
  art's code and schema disagree on the list), only trimmed.
- The proxy comes from the configuration only (``trust_env`` is off), so one tenant's traffic never follows
  a proxy variable of the worker's environment.
- Downloading the zipped logs of WorkloadJob/WorkloadJobROI (``fs/files/{job}/logs/all/...``) is not built.

Unlike the prior art: the token is fetched once and cached (not per request), a 401 refreshes it once and
then fails clearly, errors keep their type instead of being rewrapped, and neither the secret, the token nor
an upstream body is ever put in a message or a log line. Downloads stream in chunks, not whole-file text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from portal.lib.secrets import aws_secret_source

log = logging.getLogger(__name__)

JOB_STATUSES = (
    "requested",
    "queued",
    "allocating",
    "allocated",
    "booting",
    "inprogress",
    "checkpointing",
    "done",
    "error",
    "releasing",
    "released",
    "complete",
)
ARTIFACT_TYPES = {
    "ISIM": "isim",
    "NovaCoho": "coho",
    "IWPS": "iwps",
    "WorkloadJob": "workloadjob",
    "WorkloadJobROI": "workloadjobroi",
}
WORKLOAD_JOB_TYPES = frozenset({"WorkloadJob", "WorkloadJobROI"})
TOKEN_LIFETIME_SHARE = 0.9
DEFAULT_EXPIRES_IN = 3600.0
MAX_LIMIT = 100


class IssError(Exception):
    """Anything the ISS connector could not do; the message is safe to show to an operator."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class IssAuthError(IssError):
    """401/403, or credentials the token endpoint refused."""


class IssNotFound(IssError):
    """404: the job, platform or file does not exist (or is not visible to these credentials)."""


class IssRateLimited(IssError):
    """429; ``retry_after`` is in seconds when ISS said so."""

    def __init__(self, message: str, *, retry_after: float | None):
        super().__init__(message, status=429)
        self.retry_after = retry_after


class IssUpstreamError(IssError):
    """5xx, an unexpected 4xx, or an answer that is not the JSON the protocol promises."""


class IssUnreachable(IssError):
    """Timeout or connection failure: ISS never answered."""


SecretSource = str | Callable[[], str]


@dataclass(frozen=True)
class IssConfig:
    base_url: str
    file_service_url: str
    token_url: str
    client_id: str
    client_secret: SecretSource = field(repr=False)
    scope: str = ""
    proxy: str | None = None
    timeout: float = 30.0
    connect_timeout: float = 10.0

    def secret(self) -> str:
        """A callable source is asked on every token fetch, so a rotated secret is picked up at refresh."""
        return self.client_secret() if callable(self.client_secret) else self.client_secret


@dataclass(frozen=True)
class JobPage:
    jobs: list[dict[str, Any]]
    count: int
    continuation_token: str | None


@dataclass(frozen=True)
class ArtifactFile:
    name: str
    size: int | None = None


def secret_from_aws_secrets_manager(
    secret_id: str, region: str, endpoint_url: str | None = None, *, key: str = "client_secret"
) -> Callable[[], str]:
    """A secret source for ``IssConfig``: a plain SecretString, or the ``key`` field of a JSON one."""
    return aws_secret_source(
        secret_id,
        region=region,
        endpoint_url=endpoint_url,
        field=key,
        name="ISS client secret",
        unreachable=IssUnreachable,
        refused=IssAuthError,
    )


class TokenCache:
    """One bearer token shared by every thread, refreshed after 90 % of its lifetime."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], clock: Callable[[], float]):
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                token, expires_in = self._fetch()
                self._token, self._renew_at = token, self._clock() + expires_in * TOKEN_LIFETIME_SHARE
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` unless another thread already replaced it, so one 401 causes one refresh."""
        with self._lock:
            if self._token == token:
                self._token = None


class IssClient:
    def __init__(
        self,
        config: IssConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ):
        self.config = config
        timeout = httpx.Timeout(config.timeout, connect=config.connect_timeout)
        self.http = httpx.Client(proxy=config.proxy, timeout=timeout, trust_env=False, transport=transport)
        self.tokens = TokenCache(self._fetch_token, clock)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> IssClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Jobs and platforms

    def list_jobs(
        self,
        *,
        status: str | None = None,
        job_types: str | Sequence[str] | None = None,
        queue: str | None = None,
        requested_by: str | None = None,
        parent_instance_id: str | None = None,
        job_request_id: str | None = None,
        limit: int = MAX_LIMIT,
        continuation_token: str | None = None,
    ) -> JobPage:
        """One page; pass ``continuation_token`` of the previous page to get the next, ``None`` means last."""
        params = {
            "Limit": _checked_limit(limit),
            "JobRequestStatus": _checked_status(status),
            "Type": _joined_types(job_types),
            "Queue": queue,
            "RequestedBy": requested_by,
            "ParentInstanceID": parent_instance_id,
            "JobRequestID": job_request_id,
            "ContinuationToken": continuation_token,
        }
        data = self._get_json(self._api("jobs"), {k: v for k, v in params.items() if v not in (None, "")})
        jobs = [_flattened(job) for job in _list_of(data, "Jobs")]
        token = data.get("ContinuationToken") or None
        return JobPage(jobs=jobs, count=int(data.get("Count", len(jobs))), continuation_token=token)

    def get_job(self, job_id: str) -> dict[str, Any]:
        return _flattened(self._get_json(self._api("jobs", "job", job_id)))

    def job_schema(self) -> dict[str, Any]:
        return self._get_json(self._api("jobs", "schema"))

    def list_platforms(self) -> list[dict[str, Any]]:
        return _list_of(self._get_json(self._api("platforms")), "Platforms")

    def get_platform(self, platform_id: str) -> dict[str, Any]:
        return self._get_json(self._api("platforms", "platform", platform_id))

    # Files

    def list_files(self, job_id: str, job_type: str, subdir: str = "") -> list[ArtifactFile]:
        if job_type in WORKLOAD_JOB_TYPES:
            data = self._get_json(self._files(job_id, "logs"))
            return [_artifact(entry) for entry in _list_of(data, "children")]
        url = self._files(job_id, artifact_type(job_type), "artifacts", "out", *_segments(subdir))
        return [_artifact(entry) for entry in _list_of(self._get_json(url), "files")]

    def download(
        self, job_id: str, job_type: str, path: str, *, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """The file's bytes in chunks of at most ``chunk_size``; only one chunk is held at a time.

        Lazy: the request (and any IssError) happens on the first ``next()``.
        """
        url = self._files(job_id, artifact_type(job_type), "artifacts", "out", *_segments(path))
        return self._stream(url, chunk_size)

    # Plumbing

    def _api(self, *parts: str) -> str:
        return _url(self.config.base_url, "v1", *parts)

    def _files(self, job_id: str, *parts: str) -> str:
        return _url(self.config.file_service_url, "fs", "files", job_id, *parts)

    def _get_json(self, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._send(lambda headers: self.http.get(url, params=params, headers=headers))
        try:
            data = response.json()
        except ValueError:
            raise IssUpstreamError(f"ISS answered {_where(url)} with something that is not JSON") from None
        if not isinstance(data, dict):
            raise IssUpstreamError(f"ISS answered {_where(url)} with JSON that is not an object")
        return data

    def _stream(self, url: str, chunk_size: int) -> Iterator[bytes]:
        def open_stream(headers: dict[str, str]) -> httpx.Response:
            request = self.http.build_request("GET", url, headers=headers)
            return self.http.send(request, stream=True)

        response = self._send(open_stream)
        try:
            with _unreachable_on_transport_errors(url):
                yield from response.iter_bytes(chunk_size)
        finally:
            response.close()

    def _send(self, call: Callable[[dict[str, str]], httpx.Response]) -> httpx.Response:
        """Send with the cached token; on a 401 refresh it once and try again, then give up clearly."""
        for attempt in (1, 2):
            token = self.tokens.get()
            with _unreachable_on_transport_errors(None):
                response = call({"Authorization": f"Bearer {token}", "Accept": "application/json"})
            if response.status_code != 401:
                break
            self.tokens.invalidate(token)
            if attempt == 2:
                break
            response.close()
            log.info("ISS answered 401; fetching a new token and trying once more")
        if response.is_success:
            return response
        response.close()
        raise _error_for(response)

    def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.secret(),
        }
        if self.config.scope:
            form["scope"] = self.config.scope
        with _unreachable_on_transport_errors(self.config.token_url):
            response = self.http.post(
                self.config.token_url, data=form, headers={"Accept": "application/json"}
            )
        if response.status_code in (400, 401, 403):
            raise IssAuthError(
                f"The ISS token endpoint refused client {self.config.client_id!r} "
                f"(HTTP {response.status_code}); check the client id and secret",
                status=response.status_code,
            )
        if not response.is_success:
            raise _error_for(response)
        return _token_from(response)


def artifact_type(job_type: str) -> str:
    return ARTIFACT_TYPES.get(job_type, "iwps")


def _token_from(response: httpx.Response) -> tuple[str, float]:
    try:
        body = response.json()
        token = body["access_token"]
        expires_in = float(body.get("expires_in") or DEFAULT_EXPIRES_IN)
    except (ValueError, KeyError, TypeError):
        raise IssAuthError("The ISS token endpoint answered without an access_token") from None
    log.debug("Fetched an ISS token valid for %.0f s", expires_in)
    return str(token), expires_in


def _error_for(response: httpx.Response) -> IssError:
    status, where = response.status_code, _where(str(response.request.url))
    if status in (401, 403):
        verb = "rejected the token again after a refresh" if status == 401 else "denied access"
        return IssAuthError(f"ISS {verb} (HTTP {status}) for {where}", status=status)
    if status == 404:
        return IssNotFound(f"ISS has nothing at {where} (HTTP 404)", status=404)
    if status == 429:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return IssRateLimited(f"ISS is rate limiting {where} (HTTP 429){hint}", retry_after=retry_after)
    kind = "failed" if status >= 500 else "refused the request"
    return IssUpstreamError(f"ISS {kind} (HTTP {status}) for {where}", status=status)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP date; callers fall back to their own backoff


class _unreachable_on_transport_errors:
    """Turn httpx's timeouts and connection failures into IssUnreachable, naming the host, not the query."""

    def __init__(self, url: str | None):
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None or not isinstance(exc, httpx.TransportError):
            return False
        url = self.url or (str(exc.request.url) if _has_request(exc) else "")
        what = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
        raise IssUnreachable(f"ISS {what} at {_where(url or '')} ({type(exc).__name__})") from None


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - httpx raises RuntimeError when the error has no request
    except RuntimeError:
        return False
    return True


def _where(url: str) -> str:
    """Scheme, host and path: never the query, which may carry a continuation token."""
    parsed = httpx.URL(url) if url else None
    return f"{parsed.scheme}://{parsed.netloc.decode()}{parsed.path}" if parsed else "ISS"


def _url(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(quote(part, safe="") for part in parts)])


def _segments(path: str) -> list[str]:
    parts = [part for part in path.strip("/").split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise ValueError(f"An ISS file path may not contain '.' or '..': {path!r}")
    return parts


def _checked_status(status: str | None) -> str | None:
    if status is not None and status not in JOB_STATUSES:
        raise ValueError(f"Unknown ISS job status {status!r}; allowed: {', '.join(JOB_STATUSES)}")
    return status


def _checked_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


def _joined_types(job_types: str | Sequence[str] | None) -> str | None:
    if job_types is None:
        return None
    items = job_types.split(",") if isinstance(job_types, str) else list(job_types)
    cleaned = [item.strip() for item in items if item.strip()]
    if any("," in item for item in cleaned):
        raise ValueError("A job type may not contain a comma")
    return ",".join(cleaned) or None


def _flattened(job: dict[str, Any]) -> dict[str, Any]:
    metadata = job.get("Metadata")
    if not isinstance(metadata, dict):
        return job
    rest = {key: value for key, value in job.items() if key != "Metadata"}
    keys = ("RequestedOn", "LastUpdatedOn", "RequestedBy", "LastUpdatedBy")
    return {**rest, **{key: metadata.get(key) for key in keys}}


def _list_of(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise IssUpstreamError(f"ISS answered with {key!r} that is not a list")
    return value


def _artifact(entry: Any) -> ArtifactFile:
    if isinstance(entry, str):
        return ArtifactFile(name=entry)
    if isinstance(entry, dict) and (entry.get("name") or entry.get("Name")):
        size = entry.get("size", entry.get("Size"))
        return ArtifactFile(name=str(entry.get("name") or entry.get("Name")), size=_int_or_none(size))
    raise IssUpstreamError("ISS listed a file without a name")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
