"""What the two HTTP providers share: their ``complete`` (one streamed POST, retried, with typed errors) and
the Server-Sent Events reader.

SSE framing as the WHATWG HTML standard defines it (§9.2 "Server-sent events"): ``field: value`` lines,
``event:`` names the event, ``data:`` lines are joined with newlines, a blank line dispatches, a line starting
with ``:`` is a comment. OpenAI's chat completions stream sends only ``data:`` lines; Anthropic's Messages
stream names every event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from chat.providers.base import (
    Completion,
    OnText,
    ProviderConfig,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderUnreachable,
    Streamed,
    ToolSpec,
    Turn,
    retry_after_seconds,
    with_retries,
)

ERROR_DETAIL_CHARS = 200


class StreamingHTTPProvider:
    """A provider that POSTs one JSON request and reads the answer as an event stream, retried (before any
    text) by ``with_retries``. Subclasses give ``name``, ``url()``, ``headers()``, ``request_body()`` and
    ``read()``."""

    kind = ""
    name = ""

    def __init__(self, config: ProviderConfig):
        self.config = config

    async def complete(
        self, system: str, turns: list[Turn], tools: list[ToolSpec], *, use_tools: bool, on_text: OnText
    ) -> Completion:
        body = self.request_body(system, turns, tools, use_tools=use_tools)
        url, headers = self.url(), self.headers()

        async def attempt(streamed: Streamed) -> Completion:
            async with open_stream(self.config, self.name, url, headers=headers, body=body) as response:
                return await self.read(response, streamed)

        return await with_retries(self.config, attempt, on_text)

    def url(self) -> str:
        raise NotImplementedError

    def headers(self) -> dict:
        raise NotImplementedError

    def request_body(self, system: str, turns: list[Turn], tools: list[ToolSpec], *, use_tools: bool) -> dict:
        raise NotImplementedError

    async def read(self, response: httpx.Response, streamed: Streamed) -> Completion:
        raise NotImplementedError


@asynccontextmanager
async def open_stream(config: ProviderConfig, name: str, url: str, *, headers: dict, body: dict):
    """POST ``body`` and yield the streaming response once it answered 2xx; every failure, now or while the
    caller reads the stream, becomes a ProviderError that names ``name`` and never the key."""
    timeout = httpx.Timeout(config.timeout, connect=min(config.connect_timeout, config.timeout))
    try:
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("POST", url, headers=headers, json=body) as response,
        ):
            if response.status_code >= 400:
                raise await _http_error(config, name, response)
            yield response
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        raise ProviderUnreachable(
            f"{name} at {_host(url)} could not be reached ({_kind(error)})", retryable=True
        ) from None
    except httpx.TimeoutException:
        raise ProviderUnreachable(
            f"{name} at {_host(url)} sent nothing for {config.timeout:g} s (timed out)", retryable=False
        ) from None
    except httpx.HTTPError as error:
        raise ProviderProtocolError(f"{name} at {_host(url)} broke off the answer ({_kind(error)})") from None


async def _http_error(config: ProviderConfig, name: str, response: httpx.Response) -> ProviderHTTPError:
    try:
        raw = (await response.aread()).decode("utf-8", "replace")
    except httpx.HTTPError:
        raw = ""
    detail = _error_message(raw)
    if config.api_key:
        detail = detail.replace(config.api_key, "***")
    message = f"{name} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    return ProviderHTTPError(message, status=response.status_code, retry_after=retry_after)


def _error_message(raw: str) -> str:
    """The provider's own error sentence (``{"error": {"message": …}}`` in both APIs), cut short."""
    try:
        parsed = json.loads(raw)
        found = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
        message = found.get("message", "") if isinstance(found, dict) else str(found)
    except ValueError:
        message = raw
    message = " ".join(str(message).split())
    return message[:ERROR_DETAIL_CHARS] + ("…" if len(message) > ERROR_DETAIL_CHARS else "")


def _host(url: str) -> str:
    """Host and port only: a base URL with credentials in it must not reach a message."""
    parsed = httpx.URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


def _kind(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) of each event of the stream; "message" when the event has no name."""
    event, data = "", []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield event or "message", "\n".join(data)


def json_event(name: str, data: str) -> dict:
    """One event's JSON object; anything else is a malformed stream."""
    try:
        parsed = json.loads(data)
    except ValueError:
        raise ProviderProtocolError(f"{name} sent a chunk that is not JSON: {data[:80]!r}") from None
    if not isinstance(parsed, dict):
        raise ProviderProtocolError(f"{name} sent a chunk that is not a JSON object: {data[:80]!r}")
    return parsed
