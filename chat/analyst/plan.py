"""What the router decides and the composer writes, as plain values that cross the tool boundary."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One tool to run, by name with JSON-ready arguments, so any provider can replay it."""

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """The calls a question needs, what it asked that no tool answers, and whether a human must confirm first.

    ``notes`` carries what the user told us about the workload (e.g. "memory-bandwidth bound") so the answer
    can take it into account without a tool having to.
    """

    calls: tuple[Call, ...] = ()
    unanswered: str | None = None
    needs_confirmation: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """Markdown to stream, the pages behind it and the tools it relied on (for the "looked up" cards)."""

    markdown: str
    links: tuple[tuple[str, str], ...] = ()
    cited_tools: tuple[str, ...] = ()
