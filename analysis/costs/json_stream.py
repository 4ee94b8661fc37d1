"""Items of the top-level arrays of one big JSON object, read in chunks with the standard library.

A 1M-job Heliox document (``{"teams": [...], "jobs": [...]}``) is a few hundred MB as text and
several GB as Python objects; this reads it ``chunk_chars`` characters at a time and decodes one array
item at a time with ``json.JSONDecoder.raw_decode``, so memory stays at one chunk plus one item. (No
new dependency: ``ijson`` would do the same in C, but is not needed at these row sizes.)

Only the outer object is scanned by hand; each key, each array item and each other value is decoded by
``json`` itself, so the grammar is exactly JSON's. Numbers with a fraction are read as ``Decimal``.
A syntax error raises ``JsonStreamError`` with the 1-based line where decoding failed; items already
yielded stay valid, so a caller reports them and the error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TextIO

CHUNK_CHARS = 1 << 16
_WHITESPACE = re.compile(r"[ \t\n\r]*")
NESTED_TOO_DEEPLY = "a value nested too deeply (arrays or objects inside each other)"


class JsonStreamError(ValueError):
    def __init__(self, message: str, line: int):
        super().__init__(f"{message} (line {line})")
        self.message = message
        self.line = line


class _Scanner:
    def __init__(self, stream: TextIO, chunk_chars: int):
        self.stream = stream
        self.chunk_chars = chunk_chars
        self.text = ""
        self.pos = 0
        self.lines_before = 0  # newlines in the text already dropped from the buffer
        self.eof = False
        self.decoder = json.JSONDecoder(parse_float=Decimal)

    def _fill(self) -> None:
        chunk = self.stream.read(self.chunk_chars)
        if not chunk:
            self.eof = True
            return
        self.lines_before += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos :] + chunk
        self.pos = 0

    def line(self, pos: int | None = None) -> int:
        return self.lines_before + self.text.count("\n", 0, self.pos if pos is None else pos) + 1

    def peek(self) -> str:
        """The next non-blank character, without consuming it ("" at the end of the input)."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self._fill()

    def expect(self, allowed: str) -> str:
        char = self.peek()
        if not char or char not in allowed:
            found = repr(char) if char else "the end of the input"
            raise JsonStreamError(f"expected {' or '.join(map(repr, allowed))}, found {found}", self.line())
        self.pos += 1
        return char

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                item, end = self.decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise JsonStreamError(exc.msg, self.line(exc.pos)) from None
                self._fill()
                continue
            except RecursionError:  # json's decoder recurses once per level of nesting
                raise JsonStreamError(NESTED_TOO_DEEPLY, self.line()) from None
            if end == len(self.text) and not self.eof:  # a number may go on in the next chunk
                self._fill()
                continue
            self.pos = end
            return item


def iter_array_items(stream: TextIO, *, chunk_chars: int = CHUNK_CHARS) -> Iterator[tuple[str, int, Any]]:
    """(key, 1-based index, item) for each item of each array value of the top-level object, in
    document order; a non-array value comes as (key, 0, value)."""
    scanner = _Scanner(stream, chunk_chars)
    scanner.expect("{")
    if scanner.peek() == "}":
        scanner.pos += 1
        return
    while True:
        key = scanner.value()
        if not isinstance(key, str):
            raise JsonStreamError("expected a key (a string)", scanner.line())
        scanner.expect(":")
        if scanner.peek() == "[":
            yield from _items(scanner, key)
        else:
            yield key, 0, scanner.value()
        if scanner.expect(",}") == "}":
            break
    if scanner.peek():
        raise JsonStreamError("unexpected text after the document", scanner.line())


def _items(scanner: _Scanner, key: str) -> Iterator[tuple[str, int, Any]]:
    scanner.expect("[")
    if scanner.peek() == "]":
        scanner.pos += 1
        return
    number = 0
    while True:
        number += 1
        yield key, number, scanner.value()
        if scanner.expect(",]") == "]":
            return
