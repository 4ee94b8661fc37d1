"""The input as chunks of whole lines (bytes), whatever it came as: a path, a text, or lines.

``CHUNK_BYTES`` is read at call time, so a test can make chunks tiny and cut the input everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

CHUNK_BYTES = 1 << 22


def file_chunks(path: str | Path) -> Iterator[memoryview]:
    """Whole lines, read into one reused buffer: a new buffer per chunk costs a page fault per
    4 KB, which on a virtual machine is more than parsing those 4 KB. Each chunk is valid until
    the next one is asked for."""
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(CHUNK_BYTES)
        view = memoryview(buffer)
        kept = 0  # bytes of an unfinished line at the start of the buffer
        while True:
            if kept == len(buffer):  # one line longer than the buffer
                buffer = buffer + bytearray(len(buffer))
                view = memoryview(buffer)
            read = handle.readinto(view[kept:])
            if not read:
                break
            end = kept + read
            cut = buffer.rfind(b"\n", 0, end) + 1
            if cut:
                yield view[:cut]
                buffer[: end - cut] = view[cut:end]
                kept = end - cut
            else:
                kept = end
        if kept:
            yield memoryview(bytes(buffer[:kept]) + b"\n")


def text_chunks(text: str) -> Iterator[bytes]:
    data = text.encode("utf-8", "surrogateescape")
    if data and not data.endswith(b"\n"):
        data += b"\n"
    view = memoryview(data)
    start = 0
    while start < len(data):
        cut = data.rfind(b"\n", start, start + CHUNK_BYTES) + 1 or data.find(b"\n", start) + 1
        yield view[start:cut]
        start = cut


def line_chunks(lines: Iterable[str]) -> Iterator[bytes]:
    batch: list[str] = []
    size = 0
    for line in lines:
        if not line.endswith("\n"):
            line += "\n"
        batch.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(batch).encode("utf-8", "surrogateescape")
            batch, size = [], 0
    if batch:
        yield "".join(batch).encode("utf-8", "surrogateescape")
