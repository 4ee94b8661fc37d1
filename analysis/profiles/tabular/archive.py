"""The profile's container: a ZIP archive (or a directory) whose ``RUNYARD-PROFILE`` marker comes
first, and its members by table, all CSV or all Parquet."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from analysis.profiles.model import ProfileFormatError
from analysis.profiles.tabular.spec import MAGIC, MARKER, ORDER, TABLES, VERSION


def sniff_tabular(head: bytes) -> bool:
    """True for a ZIP whose first member is the stored ``RUNYARD-PROFILE`` marker."""
    if len(head) < 30 or not head.startswith(b"PK\x03\x04"):
        return False
    name_length = int.from_bytes(head[26:28], "little")
    extra_length = int.from_bytes(head[28:30], "little")
    start = 30 + name_length + extra_length
    return head[30 : 30 + name_length] == MARKER.encode() and head[start:].startswith(MAGIC.encode())


class Members:
    """The archive's (or directory's) tables by name, with their encoding checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.archive: zipfile.ZipFile | None = None
        self.files: dict[str, str] = {}  # table -> member name
        self.suffix = ""

    @classmethod
    def open(cls, path: Path) -> Members:
        members = cls(path)
        if path.is_dir():
            names = sorted(entry.name for entry in path.iterdir())
        else:
            members.archive = zipfile.ZipFile(path)
            names = members.archive.namelist()
            if not names or names[0] != MARKER:
                raise ProfileFormatError(f"the first member is not {MARKER}: not a Runyard profile", 0)
        members._check_marker(names)
        return members

    def __enter__(self) -> Members:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.archive is not None:
            self.archive.close()

    def _check_marker(self, names: list[str]) -> None:
        if MARKER not in names:
            raise ProfileFormatError(f"no {MARKER} member: not a Runyard profile", 0)
        words = self.read_bytes(MARKER)[:100].decode("utf-8", "replace").split()
        if len(words) != 2 or words[0] != MAGIC:
            raise ProfileFormatError(f"{MARKER} does not say '{MAGIC} {VERSION}'", 1)
        if words[1] != str(VERSION):
            raise ProfileFormatError(
                f"{MAGIC} version {words[1]!r} is not supported (this reader: {VERSION})", 1
            )
        for name in names:
            if name == MARKER or name.endswith("/"):
                continue
            table, dot, suffix = name.rpartition(".")
            if not dot or suffix not in ("csv", "parquet") or table not in TABLES:
                raise ProfileFormatError(f"unknown table {name!r} (tables: {', '.join(ORDER)})", 0)
            if self.suffix and suffix != self.suffix:
                raise ProfileFormatError(f"{name} mixes {suffix} with {self.suffix} members", 0)
            self.suffix = suffix
            self.files[table] = name

    def read_bytes(self, name: str) -> bytes:
        if self.archive is not None:
            return self.archive.read(name)
        return (self.path / name).read_bytes()

    def text_lines(self, name: str) -> Iterator[str]:
        if self.archive is not None:
            with self.archive.open(name) as raw:
                yield from io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        else:
            with open(self.path / name, encoding="utf-8-sig", newline="") as handle:
                yield from handle
