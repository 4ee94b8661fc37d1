"""The base of the tests' local HTTP servers (ISS, HWA, model providers, the recording server).

A subclass is a dataclass with a ``_handler()`` that returns its ``BaseHTTPRequestHandler`` class; the base
binds a free port on 127.0.0.1 when the object is made and serves it from a daemon thread inside ``with``.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Self


class LocalServer:
    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()  # set on exit, so a handler that waits can give up at once
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def _handler(self) -> type:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return self.origin

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
