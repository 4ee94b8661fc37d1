"""A TCP proxy that can fail like a restarting server: ``down()`` closes every open connection and refuses new
ones (the port stops listening), ``up()`` listens again on the same port. Clients see what they see when
Redis or PostgreSQL restarts: reads end, writes fail, connecting is refused.

It runs an asyncio loop on a daemon thread, so tests and benches drive it from plain synchronous code:

    with FaultProxy(6379) as redis:
        url = f"redis://127.0.0.1:{redis.port}/0"
        redis.down(); ...; redis.up()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from typing import Self

CHUNK = 65536


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self.connections = 0  # accepted since the start, for tests that check the clients went through
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="fault-proxy")
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> Self:
        self._thread.start()
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        """Listen again (a no-op when already up)."""
        self._call(self._start())

    def down(self) -> None:
        """Stop listening and cut every open connection (a no-op when already down)."""
        self._call(self._stop())

    def _call(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True, backlog=256
            )

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            _cut(writer)
        self._open.clear()

    async def _serve(self, client_reader, client_writer) -> None:
        self.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _cut(client_writer)
            return
        pair = {client_writer, server_writer}
        self._open |= pair
        try:
            await asyncio.gather(
                _pipe(client_reader, server_writer),
                _pipe(server_reader, client_writer),
                return_exceptions=True,
            )
        finally:
            for writer in pair:
                _cut(writer)
            self._open -= pair


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until it ends; then end the other side's writing too, like a closed socket."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    finally:
        _cut(writer)


def _cut(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0), as a killed server's kernel does, so nothing waits for a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None and not writer.is_closing():
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
