"""A local HTTP proxy in front of moto's S3 server that answers S3's 503 errors (SlowDown,
ServiceUnavailable), with S3's XML error body, for the next N requests or until told to stop; the others
pass through unchanged.

Every request is recorded (method, path, the status it got), so a test sees how often the client retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from uuid import uuid4

import httpx

from tests.local_server import LocalServer

MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "ServiceUnavailable": "Service is unable to handle request.",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "expect"}
ALWAYS = -1


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    status: int


def error_xml(code: str, resource: str) -> bytes:
    """S3's error document (Amazon S3 API Reference, "Error responses")."""
    request_id = uuid4().hex[:16].upper()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{MESSAGES[code]}</Message><Resource>{resource}</Resource>"
        f"<RequestId>{request_id}</RequestId><HostId>{uuid4().hex}</HostId></Error>"
    ).encode()


@dataclass
class FaultyS3(LocalServer):
    upstream: str
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._client = httpx.Client(base_url=self.upstream, timeout=30)
        self._refusing, self._code, self._armed_by = 0, "SlowDown", ""

    def refuse(self, code: str, times: int = ALWAYS) -> FaultyS3:
        """Answer ``code`` (503) to the next ``times`` requests, or to every one until ``pass_through``."""
        with self._lock:
            self._refusing, self._code = times, code
            self.seen.clear()
        return self

    def refuse_after(self, method: str, code: str) -> FaultyS3:
        """Pass requests through until one with ``method`` did, then answer ``code`` to every one."""
        with self._lock:
            self._refusing, self._code, self._armed_by = 0, code, method
            self.seen.clear()
        return self

    def pass_through(self) -> None:
        with self._lock:
            self._refusing, self._armed_by = 0, ""

    def statuses(self) -> list[int]:
        with self._lock:
            return [seen.status for seen in self.seen]

    def _verdict(self) -> str | None:
        with self._lock:
            if not self._refusing:
                return None
            if self._refusing > 0:
                self._refusing -= 1
            return self._code

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.seen.append(Seen(method, path, status))
            if method == self._armed_by and status < 300:
                self._refusing, self._armed_by = ALWAYS, ""

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self._client.close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers "Expect: 100-continue" as S3 does

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _relay(self) -> None:
                body = self._body()
                path = self.path.split("?", 1)[0]
                code = proxy._verdict()
                if code is not None:
                    xml = error_xml(code, path)
                    headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))]
                    proxy._record(self.command, path, 503)
                    return self._answer(503, headers, xml)
                forwarded = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                answer = proxy._client.request(self.command, self.path, headers=forwarded, content=body)
                headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP]
                length = answer.headers.get("content-length", str(len(answer.content)))
                headers.append(
                    ("Content-Length", length if self.command == "HEAD" else str(len(answer.content)))
                )
                proxy._record(self.command, path, answer.status_code)
                return self._answer(answer.status_code, headers, answer.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

            def log_message(self, *args):
                pass

        return Handler
