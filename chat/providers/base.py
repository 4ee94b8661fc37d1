"""The neutral conversation every provider speaks, its typed errors, and the retry rule they share.

A conversation is a list of ``UserText``, ``AssistantTurn`` (text and the tool calls the model asked for)
and ``ToolResults`` (what those calls answered, as JSON data). A provider turns it into its own wire format,
streams the model's text through ``on_text`` as it arrives, and returns a ``Completion``. Nothing here
imports Django.

Errors say which provider failed and why, never a key: ``ProviderUnreachable`` (connection refused, timed
out), ``ProviderHTTPError`` (a status the provider answered), ``ProviderProtocolError`` (a stream we cannot
read).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

OnText = Callable[[str], Awaitable[None]]
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
MAX_RETRY_WAIT = 30.0


@dataclass(frozen=True)
class ProviderConfig:
    """Everything one provider call needs; ``api_key`` is kept out of ``repr`` so it never reaches a log."""

    kind: str
    model: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_rounds: int = 4
    max_tokens: int = 2048
    retries: int = 2
    retry_base: float = 0.5
    aws_region: str = ""
    aws_endpoint_url: str = ""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: Any  # a dict when the model wrote valid JSON; the raw text otherwise (the tool refuses it)


@dataclass(frozen=True)
class UserText:
    text: str


@dataclass(frozen=True)
class AssistantTurn:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ToolOutput:
    call: ToolCall
    content: dict
    is_error: bool = False

    @property
    def json(self) -> str:
        return json.dumps(self.content, default=str, ensure_ascii=False)


@dataclass(frozen=True)
class ToolResults:
    outputs: tuple[ToolOutput, ...]


Turn = UserText | AssistantTurn | ToolResults


@dataclass(frozen=True)
class Completion:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    tokens_in: int = 0
    tokens_out: int = 0
    stop_reason: str = ""


class Provider(Protocol):
    kind: str

    async def complete(
        self, system: str, turns: list[Turn], tools: list[ToolSpec], *, use_tools: bool, on_text: OnText
    ) -> Completion:
        """One model request, streamed. ``use_tools=False`` asks for an answer without more tool calls
        (the tools are still declared: providers refuse a history of tool calls without them)."""
        ...


class ProviderError(Exception):
    """Why a provider gave no answer; the message names the provider and never holds a key."""

    retryable = False


class ProviderUnreachable(ProviderError):
    """Could not connect, or the provider did not answer within the timeout."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


class ProviderHTTPError(ProviderError):
    def __init__(self, message: str, *, status: int, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.retryable = status in RETRYABLE_STATUSES


class ProviderProtocolError(ProviderError):
    """The answer did not follow the provider's documented stream format."""


class Streamed:
    """Counts what a request already streamed: once a token went out, a retry would repeat it."""

    def __init__(self, on_text: OnText):
        self._on_text = on_text
        self.started = False

    async def text(self, piece: str) -> None:
        if piece:
            self.started = True
            await self._on_text(piece)


async def with_retries(config: ProviderConfig, attempt: Callable[[Streamed], Awaitable[Completion]], on_text):
    """Run ``attempt``; retry a connection failure, a 429 or a 5xx with exponential backoff (honouring
    Retry-After, capped), but only while nothing was streamed yet."""
    tries = 0
    while True:
        streamed = Streamed(on_text)
        try:
            return await attempt(streamed)
        except ProviderError as error:
            if not error.retryable or streamed.started or tries >= config.retries:
                raise
            wait = config.retry_base * 2**tries
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                wait = max(wait, retry_after)
            tries += 1
            await asyncio.sleep(min(wait, MAX_RETRY_WAIT))


def alternating(turns: list, blocks: Callable[[Any], tuple[str, list[dict]]]) -> list[dict]:
    """``{"role", "content"}`` messages, consecutive turns of one role merged into one, for protocols whose
    roles must alternate (Anthropic Messages, Bedrock Converse). ``blocks(turn)`` gives a turn's role and its
    content blocks in the protocol's shape; a turn without blocks is left out."""
    messages: list[dict] = []
    for turn in turns:
        role, content = blocks(turn)
        if not content:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += content
        else:
            messages.append({"role": role, "content": content})
    return messages


def parse_arguments(raw: str) -> Any:
    """A tool call's arguments: the JSON object the model wrote ("" is no arguments), else the raw text."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def token_count(value) -> int:
    """A usage figure as the provider sent it; anything that is not a count counts as 0."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def retry_after_seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
