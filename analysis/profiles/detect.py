"""Which profiler wrote a file, judged by its content (never its name), and the parser for it.

Each format's module offers ``sniff_<format>(head)`` and a parser; this module only keeps the list, in
the order the checks must run (the specific signatures before callgrind's generic ``events:`` header).
``parse_path`` feeds text parsers an iterator of lines that counts the bytes read, so the caller can
show real progress.
"""

from __future__ import annotations

import gzip
import importlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from analysis.profiles.model import Profile, ProfileFormatError

HEAD_BYTES = 16 * 1024
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    module: str
    sniff: str
    parse: str
    reads_lines: bool = True  # the parser takes an iterable of text lines (else a path)
    progress: bool = False  # a path parser that reports the bytes it read itself (``progress=``)
    binary: bool = False  # the sniffer looks at the first bytes, not text


FORMATS = (
    Format(
        "tabular",
        "Runyard tabular profile",
        "analysis.profiles.tabular",
        "sniff_tabular",
        "parse_tabular",
        reads_lines=False,
        binary=True,
    ),
    Format("sde_mix", "Intel SDE -mix", "analysis.profiles.sde", "sniff_sde_mix", "parse_sde_mix"),
    Format("gprof", "gprof", "analysis.profiles.gprof", "sniff_gprof", "parse_gprof"),
    Format(
        "perf_report",
        "perf report --stdio",
        "analysis.profiles.perf",
        "sniff_perf_report",
        "parse_perf_report",
    ),
    Format("perf_script", "perf script", "analysis.profiles.perf", "sniff_perf_script", "parse_perf_script"),
    Format("objdump", "objdump -d", "analysis.profiles.objdump", "sniff_objdump", "parse_objdump"),
    Format(
        "callgrind",
        "callgrind / cachegrind",
        "analysis.profiles.detect",
        "sniff_callgrind",
        "_callgrind",
        reads_lines=False,
        progress=True,
    ),
)
BY_NAME = {item.name: item for item in FORMATS}


def sniff_callgrind(head: str) -> bool:
    lines = [line.strip() for line in head.splitlines()[:200]]
    return lines[:1] == ["# callgrind format"] or any(line.startswith("events:") for line in lines)


def _callgrind(path: Path, progress: Callable[[int], None] | None = None) -> Profile:
    from analysis.profiles.callgrind import parse_callgrind

    return parse_callgrind(path, progress=progress)  # a path: the fast chunked read


def _function(spec: Format, attribute: str) -> Callable | None:
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        return None
    return getattr(module, attribute, None)


def ungzipped(path: Path) -> Path:
    """``path`` itself, or beside it its decompressed copy when it is gzip (uploads may be .gz)."""
    with open(path, "rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            return path
    target = path.with_name(path.name + ".unzipped")
    try:
        with gzip.open(path, "rb") as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, 1024 * 1024)
    except (OSError, EOFError) as error:
        raise ProfileFormatError(f"the gzip file is damaged ({error})", 0) from error
    return target


def detect_head(raw: bytes) -> Format | None:
    """The format whose signature the first bytes of a file carry, or None."""
    text = raw[:HEAD_BYTES].decode("utf-8", errors="replace")
    for spec in FORMATS:
        sniff = _function(spec, spec.sniff)
        if sniff is not None and sniff(raw[:HEAD_BYTES] if spec.binary else text):
            return spec
    return None


def detect(path: Path) -> Format:
    with open(path, "rb") as handle:
        spec = detect_head(handle.read(HEAD_BYTES))
    if spec is None:
        raise ProfileFormatError(
            "not a profile Runyard reads (callgrind, cachegrind, gprof, perf script, perf report, "
            "objdump -d, Intel SDE -mix, or the Runyard tabular format)",
            1,
        )
    return spec


def parse_path(path: Path, spec: Format, progress: Callable[[int], None] | None = None) -> Profile:
    """Parse ``path`` as ``spec``; ``progress(bytes_read)`` is called as the text is read."""
    parse = _function(spec, spec.parse)
    if parse is None:
        raise ProfileFormatError(f"{spec.label} files cannot be read by this version of Runyard", 0)
    if not spec.reads_lines:
        return parse(path, progress=progress) if spec.progress else parse(path)
    with open(path, encoding="utf-8", errors="surrogateescape", newline=None) as handle:
        return parse(_counted(handle, progress) if progress else handle)


def _counted(lines, progress: Callable[[int], None]) -> Iterator[str]:
    read = 0
    for number, line in enumerate(lines, 1):
        read += len(line)
        if not number & 0x3FFF:
            progress(read)
        yield line
    progress(read)
