"""Reader for the Valgrind callgrind/cachegrind text format (Valgrind manual, "Callgrind Format
Specification"; notes in reference/profile-formats.md §1.1).

The file is read in chunks of a few MB cut at line boundaries (``chunks``); a compiled loop
(``kernel.scan``, numba) reads the cost lines and the common position specifications and adds the
costs into hash tables keyed by position (``hashtables``), so memory follows the number of distinct
functions/lines/instructions and never the file size. The lines it hands back (headers, totals,
uncompressed names, anything malformed) are read by ``reader``, where the format's rules live.
DataFrames are built once at the end (``tables``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from analysis.profiles.callgrind.chunks import file_chunks, line_chunks, text_chunks
from analysis.profiles.callgrind.reader import Reader
from analysis.profiles.model import Profile, ProfileFormatError

__all__ = ["ProfileFormatError", "parse_callgrind", "parse_callgrind_text"]


def parse_callgrind(
    source: str | Path | Iterable[str],
    *,
    instructions: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Profile:
    """Parse a callgrind or cachegrind file (a path, or an iterable of text lines).

    ``instructions=False`` leaves the per-instruction table empty: it is the biggest table of a
    ``--dump-instr=yes`` profile, and skipping it makes the read faster and smaller.
    ``progress(bytes_read)`` is called after each chunk of a path is read.
    """
    if isinstance(source, (str, Path)):
        chunks = file_chunks(source)
        return Reader(instructions, os.path.getsize(source)).read(
            _counted(chunks, progress) if progress else chunks
        )
    return Reader(instructions).read(line_chunks(source))


def _counted(chunks: Iterator[memoryview], progress: Callable[[int], None]) -> Iterator[memoryview]:
    read = 0
    for chunk in chunks:
        read += len(chunk)
        yield chunk
        progress(read)


def parse_callgrind_text(text: str, *, instructions: bool = True) -> Profile:
    return Reader(instructions).read(text_chunks(text))
