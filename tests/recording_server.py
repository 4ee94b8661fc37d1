"""A real HTTP server on 127.0.0.1 that records every request and answers from a script.

For testing what Runyard sends over HTTP (webhooks, Slack, Linear) without patching the client: the
answers are played in order and the last one repeats, e.g. ``[(500, "down"), (200, "ok")]``.
"""

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.local_server import LocalServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class RecordingServer(LocalServer):
    answers: list[tuple[int, object]] = field(default_factory=lambda: [(200, "ok")])
    requests: list[Recorded] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.origin}/hook"

    def _answer(self, recorded: Recorded) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(recorded)
            status, body = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return status, (body if isinstance(body, str) else json.dumps(body)).encode()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    "POST",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                status, body = server._answer(recorded)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


def closed_port_url() -> str:
    """A URL on which nothing listens: connecting fails at once (a network error)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
