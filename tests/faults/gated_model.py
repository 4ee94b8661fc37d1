"""A model provider (OpenAI-compatible, streamed) that stops in the middle of its answer until the test opens
the gate: a test can then break something while the portal is, for sure, half-way through a reply."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.chat.model_server import openai_text
from tests.local_server import LocalServer


@dataclass
class GatedModel(LocalServer):
    before: list[str] = field(default_factory=list)  # the pieces streamed before the gate
    after: list[str] = field(default_factory=list)  # the pieces streamed once it opens
    gate: threading.Event = field(default_factory=threading.Event)
    waiting: threading.Event = field(default_factory=threading.Event)  # set once it stopped at the gate

    @property
    def text(self) -> str:
        return "".join(self.before + self.after)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = openai_text(server.before + server.after, tokens=(10, 20)).chunks
                cut = 1 + len(server.before)  # the role chunk, then one chunk per piece
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    self._write(chunks[:cut])
                    server.waiting.set()
                    while not (server.gate.wait(0.05) or server._stop.is_set()):
                        pass
                    self._write(chunks[cut:])
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _write(self, chunks):
                for chunk in chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()

            def log_message(self, *args):
                pass

        return Handler
