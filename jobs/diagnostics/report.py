"""Diagnosing a step's log with the catalogue, and rendering the diagnosis as text or HTML.

How matching works (``diagnose``):

* Only the end of the log is read: the last ``MAX_CHARS`` characters (256 KiB), and of those the last
  ``MAX_LINES`` lines (2,000); a longer line keeps its first and last 1,000 characters. The error that
  stopped a step is at the end of its log, and the bound keeps diagnosis fast whatever the log's size. Line
  numbers in the answer are those of the whole text given, not of the excerpt.
* Patterns are matched line by line. An entry's score is the sum of the weights of its *distinct* patterns
  that matched somewhere (signature 3, hint 1); a line repeated a thousand times counts once.
* The best entry has the highest score; ties go to the more severe entry, then to the one earlier in the
  catalogue. Nothing matched means ``UNKNOWN`` (WS-UNK-000, permanent).
* It never raises: ``None``, bytes (decoded as UTF-8 with replacement), empty text and binary garbage all
  give a diagnosis.
"""

import html
import re
from dataclasses import dataclass

from jobs.diagnostics.catalogue import CATALOGUE, SEVERITY_RANK, UNKNOWN, Entry

MAX_CHARS = 256 * 1024
MAX_LINES = 2000
MAX_LINE_CHARS = 2000
MAX_SHOWN_LINES = 5  # matched lines kept per entry for the report


@dataclass(frozen=True)
class MatchedLine:
    number: int  # 1-based, in the whole log
    text: str  # printable: control characters replaced
    pattern: str


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: int
    lines: tuple[MatchedLine, ...]  # the first MAX_SHOWN_LINES matched lines, in log order
    hits: int  # matched lines in all

    @property
    def code(self) -> str:
        return self.entry.code

    def rank_key(self) -> tuple:
        return (-self.score, -SEVERITY_RANK[self.entry.severity], _ORDER[self.entry.code])


@dataclass(frozen=True)
class Diagnosis:
    entry: Entry  # the best match, or UNKNOWN
    matches: tuple[Match, ...]  # every entry that matched, best first
    first_line: int  # the window of the log that was read (1-based, inclusive)
    last_line: int
    truncated: bool  # True when the log was longer than the window

    @property
    def code(self) -> str:
        return self.entry.code

    @property
    def failure_class(self) -> str:
        return self.entry.failure_class

    @property
    def retryable(self) -> bool:
        return self.entry.retryable

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def lines(self) -> tuple[MatchedLine, ...]:
        return self.best.lines if self.best else ()

    def as_dict(self) -> dict:
        """JSON-ready, for storing with a failed step or answering over the API."""
        entry = self.entry
        return {
            "code": entry.code,
            "name": entry.name,
            "severity": entry.severity,
            "category": entry.category,
            "failure_class": entry.failure_class,
            "retryable": entry.retryable,
            "description": entry.description,
            "remediation": list(entry.remediation),
            "lines": [{"number": line.number, "text": line.text} for line in self.lines],
            "matches": [
                {
                    "code": match.code,
                    "score": match.score,
                    "hits": match.hits,
                    "lines": [x.number for x in match.lines],
                }
                for match in self.matches
            ],
            "window": {
                "first_line": self.first_line,
                "last_line": self.last_line,
                "truncated": self.truncated,
            },
        }


_ORDER = {entry.code: index for index, entry in enumerate(CATALOGUE)}
_ORDER[UNKNOWN.code] = len(CATALOGUE)
# One pass per line with every pattern at once; only the (rare) lines it finds are matched entry by entry.
_ANY = re.compile("|".join(f"(?:{p.source})" for entry in CATALOGUE for p in entry.patterns), re.IGNORECASE)


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in text).rstrip()


def _window(log_text) -> tuple[list[str], int, bool]:
    """The lines to scan, the 1-based number of the first one, and whether anything was skipped."""
    if log_text is None:
        return [], 1, False
    if isinstance(log_text, bytes | bytearray | memoryview):
        log_text = bytes(log_text).decode("utf-8", errors="replace")
    elif not isinstance(log_text, str):
        log_text = str(log_text)
    truncated = False
    start = 0
    if len(log_text) > MAX_CHARS:
        truncated = True
        start = len(log_text) - MAX_CHARS
        newline = log_text.find("\n", start - 1)
        # Start after a line break so no half line is read (a single giant line is read from its tail).
        start = newline + 1 if newline != -1 and newline + 1 < len(log_text) else start
    first = log_text.count("\n", 0, start) + 1
    lines = log_text[start:].split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the text ended with a line break
    if len(lines) > MAX_LINES:
        truncated = True
        first += len(lines) - MAX_LINES
        lines = lines[-MAX_LINES:]
    return [_cut(line) for line in lines], first, truncated


def _cut(line: str) -> str:
    """A long line keeps its head and its tail, where tools put the error after a long path or read."""
    if len(line) <= MAX_LINE_CHARS:
        return line
    half = MAX_LINE_CHARS // 2
    return line[:half] + " … " + line[-half:]


def _scan(log_text) -> tuple[list[Match], int, int, bool]:
    lines, first, truncated = _window(log_text)
    found: dict[str, dict] = {}
    for offset, line in enumerate(lines):
        if not _ANY.search(line):
            continue
        for entry in CATALOGUE:
            matched = [pattern for pattern in entry.patterns if pattern.regex.search(line)]
            if not matched:
                continue
            state = found.setdefault(entry.code, {"entry": entry, "patterns": {}, "lines": [], "hits": 0})
            for pattern in matched:
                state["patterns"][pattern.source] = pattern.weight
            state["hits"] += 1
            if len(state["lines"]) < MAX_SHOWN_LINES:
                state["lines"].append(MatchedLine(first + offset, _printable(line), matched[0].source))
    matches = [
        Match(s["entry"], sum(s["patterns"].values()), tuple(s["lines"]), s["hits"]) for s in found.values()
    ]
    matches.sort(key=Match.rank_key)
    return matches, first, first + len(lines) - 1 if lines else first - 1, truncated


def diagnose(log_text: str) -> Diagnosis:
    """The most likely failure in ``log_text`` (see the module docstring); never raises."""
    matches, first, last, truncated = _scan(log_text)
    entry = matches[0].entry if matches else UNKNOWN
    return Diagnosis(entry, tuple(matches), first, max(last, first - 1), truncated)


def diagnose_all(log_text: str) -> list[Match]:
    """Every catalogue entry found in ``log_text``, best first (empty when nothing is recognised)."""
    return _scan(log_text)[0]


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def render_text(diagnosis: Diagnosis) -> str:
    entry = diagnosis.entry
    out = [
        f"{entry.code} {entry.name}",
        f"Severity: {entry.severity.upper()}  Category: {entry.category}  "
        f"Failure class: {entry.failure_class}  Retryable: {_yes_no(entry.retryable)}",
        entry.description,
    ]
    if diagnosis.lines:
        out.append("Matched:")
        out.extend(f"  line {line.number}: {line.text}" for line in diagnosis.lines)
    out.append("Remediation:")
    out.extend(f"  {number}. {step}" for number, step in enumerate(entry.remediation, 1))
    others = diagnosis.matches[1:]
    if others:
        out.append("Also matched: " + ", ".join(f"{m.code} {m.entry.name} (score {m.score})" for m in others))
    out.append(_window_note(diagnosis))
    return "\n".join(out) + "\n"


def _window_note(diagnosis: Diagnosis) -> str:
    if diagnosis.last_line < diagnosis.first_line:
        return "The log was empty."
    note = f"Read lines {diagnosis.first_line}–{diagnosis.last_line} of the log"
    return note + (" (the end of a longer log)." if diagnosis.truncated else ".")


def render_html(diagnosis: Diagnosis) -> str:
    """An HTML fragment; every piece of text, log lines above all, is escaped."""
    e = html.escape
    entry = diagnosis.entry
    parts = [
        f'<section class="diagnosis severity-{e(entry.severity)}" data-code="{e(entry.code)}">',
        f"<h3><code>{e(entry.code)}</code> {e(entry.name)}</h3>",
        f"<p>{e(entry.description)}</p>",
        "<dl>",
        f"<dt>Severity</dt><dd>{e(entry.severity)}</dd>",
        f"<dt>Category</dt><dd>{e(entry.category)}</dd>",
        f"<dt>Failure class</dt><dd>{e(entry.failure_class)}</dd>",
        f"<dt>Retryable</dt><dd>{_yes_no(entry.retryable)}</dd>",
        "</dl>",
    ]
    if diagnosis.lines:
        parts.append('<h4>Matched</h4><pre class="log-lines">')
        parts.extend(
            f'<span class="line-number">{line.number}</span> {e(line.text)}\n' for line in diagnosis.lines
        )
        parts.append("</pre>")
    parts.append("<h4>Remediation</h4><ol>")
    parts.extend(f"<li>{e(step)}</li>" for step in entry.remediation)
    parts.append("</ol>")
    others = diagnosis.matches[1:]
    if others:
        items = ", ".join(f"<code>{e(m.code)}</code> {e(m.entry.name)} (score {m.score})" for m in others)
        parts.append(f"<p>Also matched: {items}</p>")
    parts.append(f"<p><small>{e(_window_note(diagnosis))}</small></p>")
    parts.append("</section>")
    return "\n".join(parts) + "\n"
