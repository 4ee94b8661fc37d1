"""A real HTTP server on 127.0.0.1 speaking the ISS protocol (API, OAuth2 token endpoint, file service).

One server plays all three hosts; the paths are the ones ``analysis/iss/client.py`` documents. Switches make
it misbehave on demand: ``fail(status, times, retry_after)`` answers the next API/file requests with an error,
``delay`` makes every answer slow, ``revoke_tokens()`` makes the tokens issued so far answer 401. A request
whose target is an absolute URL arrived through it acting as a proxy; its host is kept in ``proxied_hosts``.
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.local_server import LocalServer

CLIENT_ID = "runyard-test-client"
CLIENT_SECRET = "s3cr3t-iss-client-secret-value"
STATUSES = ("requested", "queued", "inprogress", "done", "error", "complete")


def sample_jobs(count: int = 5) -> list[dict]:
    types = ("IWPS", "ISIM", "NovaCoho", "WorkloadJob")
    return [
        {
            "JobRequestID": f"00000000-0000-4000-8000-{n:012d}",
            "Name": f"job {n}",
            "Type": types[n % len(types)],
            "JobRequestStatus": STATUSES[n % len(STATUSES)],
            "Queue": "gold" if n % 2 else "silver",
            "ParentInstanceID": "parent-1" if n < 2 else None,
            "TenantID": "acme",
            "Metadata": {
                "RequestedOn": f"2025-11-06T07:24:{n:02d}.000Z",
                "LastUpdatedOn": f"2025-11-06T08:00:{n:02d}.000Z",
                "RequestedBy": "alice@example.com" if n % 3 == 0 else "bob@example.com",
                "LastUpdatedBy": "iss",
            },
        }
        for n in range(count)
    ]


def payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311 - test data, not a secret


@dataclass
class IssServer(LocalServer):
    jobs: list[dict] = field(default_factory=sample_jobs)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    expires_in: int | None = 3600
    platforms: list[dict] = field(
        default_factory=lambda: [
            {"PlatformID": "p-spr", "PlatformName": "SapphireRapids", "PlatformType": "simics"},
            {"PlatformID": "p-gnr", "PlatformName": "GraniteRapids", "PlatformType": "simics"},
        ]
    )
    delay: float = 0.0
    token_requests: int = 0
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    proxied_hosts: list[str] = field(default_factory=list)

    def __post_init__(self):
        super().__post_init__()
        self._valid_tokens: set[str] = set()
        self._failures: list[tuple[int, float | None]] = []

    def fail(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def revoke_tokens(self) -> None:
        with self._lock:
            self._valid_tokens.clear()

    @property
    def issued_tokens(self) -> set[str]:
        return set(self._valid_tokens)

    # Protocol

    def _token(self, form: dict[str, list[str]], authorization: str) -> tuple[int, dict]:
        client_id, secret = _form_or_basic(form, authorization)
        with self._lock:
            self.token_requests += 1
            if form.get("grant_type") != ["client_credentials"] or (client_id, secret) != (
                CLIENT_ID,
                CLIENT_SECRET,
            ):
                return 401, {"error": "invalid_client"}
            token = f"tok-{uuid.uuid4().hex}"
            self._valid_tokens.add(token)
        answer = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        return 200, answer

    def _authorised(self, authorization: str) -> bool:
        with self._lock:
            return authorization.removeprefix("Bearer ") in self._valid_tokens

    def _next_failure(self) -> tuple[int, float | None] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[int, object]:
        parts = [part for part in path.split("/") if part]
        if parts[:2] == ["v1", "jobs"]:
            return self._jobs(parts[2:], query)
        if parts[:2] == ["v1", "platforms"]:
            if len(parts) == 2:
                return 200, {"Platforms": self.platforms}
            found = [p for p in self.platforms if parts[2:] == ["platform", p["PlatformID"]]]
            return (200, found[0]) if found else (404, {"message": "no such platform"})
        if parts[:2] == ["fs", "files"] and len(parts) >= 4:
            return self._file_listing(parts[2], parts[3:])
        return 404, {"message": "no such path"}

    def _jobs(self, rest: list[str], query: dict[str, list[str]]) -> tuple[int, object]:
        if rest == ["schema"]:
            return 200, {"title": "ISS job request", "type": "object", "required": ["Type", "Name"]}
        if len(rest) == 2 and rest[0] == "job":
            found = [job for job in self.jobs if job["JobRequestID"] == rest[1]]
            return (200, found[0]) if found else (404, {"message": "no such job"})
        if rest:
            return 404, {"message": "no such path"}
        return 200, self._job_page(query)

    def _job_page(self, query: dict[str, list[str]]) -> dict:
        def wanted(job: dict) -> bool:
            checks = {
                "JobRequestStatus": lambda v: job["JobRequestStatus"] == v,
                "Type": lambda v: job["Type"] in v.split(","),
                "Queue": lambda v: job["Queue"] == v,
                "RequestedBy": lambda v: job["Metadata"]["RequestedBy"] == v,
                "ParentInstanceID": lambda v: job["ParentInstanceID"] == v,
            }
            return all(check(query[key][0]) for key, check in checks.items() if key in query)

        matching = [job for job in self.jobs if wanted(job)]
        limit = int(query.get("Limit", ["100"])[0])
        start = int(query["ContinuationToken"][0].split("#")[1]) if "ContinuationToken" in query else 0
        page = matching[start : start + limit]
        answer: dict = {"Jobs": page, "Count": len(page)}
        if start + limit < len(matching):
            answer["ContinuationToken"] = f"2025-11-06T07:24:51.298Z#{start + limit}"
        return answer

    def _file_listing(self, job_id: str, rest: list[str]) -> tuple[int, object]:
        stored = self.files.get(job_id)
        if stored is None:
            return 404, {"message": "no such job"}
        if rest == ["logs"]:
            return 200, {"children": [{"name": name, "size": len(body)} for name, body in stored.items()]}
        if rest[1:3] != ["artifacts", "out"]:
            return 404, {"message": "no such path"}
        name = "/".join(rest[3:])
        if name in stored:
            return 200, stored[name]
        prefix = f"{name}/" if name else ""
        listed = [
            {"name": key[len(prefix) :], "size": len(body)}
            for key, body in stored.items()
            if key.startswith(prefix)
        ]
        return (200, {"files": listed}) if listed or not name else (404, {"message": "no such file"})

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _target(self) -> tuple[str, dict[str, list[str]]]:
                split = urlsplit(self.path)
                if split.scheme:
                    server.proxied_hosts.append(split.netloc)
                return split.path, parse_qs(split.query)

            def do_POST(self):
                path, _ = self._target()
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                if path.rstrip("/") != "/oauth2/token":
                    return self._send(404, {"message": "no such path"})
                self._send(*server._token(form, self.headers.get("Authorization", "")))

            def do_GET(self):
                path, query = self._target()
                with server._lock:
                    server.requests.append((path, query))
                if server.delay:
                    time.sleep(server.delay)
                if not server._authorised(self.headers.get("Authorization", "")):
                    return self._send(401, {"message": "Unauthorized"})
                failure = server._next_failure()
                if failure:
                    status, retry_after = failure
                    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
                    return self._send(status, {"message": "scripted failure"}, headers)
                self._send(*server._route(path, query))

            def _send(self, status: int, body: object, headers: dict | None = None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                kind = "application/octet-stream" if isinstance(body, bytes) else "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    for start in range(0, len(data), 256 * 1024):
                        self.wfile.write(data[start : start + 256 * 1024])
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def _form_or_basic(form: dict[str, list[str]], authorization: str) -> tuple[str | None, str | None]:
    if authorization.startswith("Basic "):
        client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        return client_id, secret
    return (form.get("client_id") or [None])[0], (form.get("client_secret") or [None])[0]
