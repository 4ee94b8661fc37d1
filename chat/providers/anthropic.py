"""Anthropic's Messages API, streamed, with tool use.

Protocol (Anthropic API reference, "Messages", "Streaming Messages" and "Tool use"): ``POST
{base_url}/v1/messages`` with headers ``x-api-key``, ``anthropic-version: 2023-06-01`` and a body of
``model``, ``max_tokens``, ``system``, ``messages``, ``tools: [{"name", "description", "input_schema"}]``,
``tool_choice`` (``auto`` or ``none``) and ``"stream": true``. The answer is Server-Sent Events, each named:
``message_start`` (``message.usage .input_tokens``), ``content_block_start`` (``content_block`` of type
``text`` or ``tool_use`` with ``id`` and ``name``), ``content_block_delta`` (``delta`` of type
``text_delta`` with ``text``, or ``input_json_delta`` with ``partial_json``, a piece of the tool input's
JSON), ``content_block_stop``, ``message_delta`` (``delta.stop_reason`` and the cumulative
``usage.output_tokens``), ``message_stop``; also ``ping``, and ``error`` (``{"error": {"type",
"message"}}``, e.g. ``overloaded_error``). Tool results go back in the next user message as ``{"type":
"tool_result", "tool_use_id", "content", "is_error"}`` blocks.
"""

from __future__ import annotations

from chat.providers.base import (
    AssistantTurn,
    Completion,
    ProviderHTTPError,
    ProviderProtocolError,
    Streamed,
    ToolCall,
    ToolResults,
    ToolSpec,
    Turn,
    UserText,
    alternating,
    parse_arguments,
)
from chat.providers.http import StreamingHTTPProvider, json_event, sse_events

NAME = "Anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
OVERLOADED = 529


class AnthropicProvider(StreamingHTTPProvider):
    kind = "anthropic"
    name = NAME

    def url(self) -> str:
        return (self.config.base_url or DEFAULT_BASE_URL).rstrip("/") + "/v1/messages"

    def headers(self) -> dict:
        return {
            "x-api-key": self.config.api_key,
            "anthropic-version": API_VERSION,
            "accept": "text/event-stream",
        }

    async def read(self, response, streamed: Streamed) -> Completion:
        return await read_stream(response, streamed)

    def request_body(self, system: str, turns: list[Turn], tools: list[ToolSpec], *, use_tools: bool) -> dict:
        body: dict = {
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "system": system,
            "messages": wire_messages(turns),
            "stream": True,
        }
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
            ]
            body["tool_choice"] = {"type": "auto" if use_tools else "none"}
        return body


def wire_messages(turns: list[Turn]) -> list[dict]:
    """Anthropic's messages alternate user and assistant: consecutive turns of one role become one message."""
    return alternating(turns, _blocks)


def _blocks(turn: Turn) -> tuple[str, list[dict]]:
    if isinstance(turn, UserText):
        return "user", [{"type": "text", "text": turn.text}] if turn.text else []
    if isinstance(turn, AssistantTurn):
        blocks = [{"type": "text", "text": turn.text}] if turn.text else []
        blocks += [
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": call.arguments if isinstance(call.arguments, dict) else {},
            }
            for call in turn.tool_calls
        ]
        return "assistant", blocks
    assert isinstance(turn, ToolResults)
    return "user", [
        {"type": "tool_result", "tool_use_id": out.call.id, "content": out.json, "is_error": out.is_error}
        for out in turn.outputs
    ]


async def read_stream(response, streamed: Streamed) -> Completion:
    state = _State()
    async for event, data in sse_events(response):
        payload = json_event(NAME, data)
        kind = payload.get("type", event)
        if kind == "message_stop":
            return state.completion()
        try:
            await state.take(kind, payload, streamed)
        except (AttributeError, TypeError, KeyError, ValueError) as error:
            raise ProviderProtocolError(f"{NAME} sent a malformed {kind} event ({error})") from None
    raise ProviderProtocolError(f"{NAME} ended the stream before message_stop")


class _State:
    def __init__(self):
        self.text: list[str] = []
        self.blocks: dict[int, dict] = {}
        self.tokens_in = 0
        self.tokens_out = 0
        self.stop_reason = ""

    async def take(self, kind: str, payload: dict, streamed: Streamed) -> None:
        if kind == "message_start":
            usage = payload["message"].get("usage") or {}
            self.tokens_in = int(usage.get("input_tokens") or 0)
            self.tokens_out = int(usage.get("output_tokens") or 0)
        elif kind == "content_block_start":
            block = payload["content_block"]
            self.blocks[int(payload["index"])] = {**block, "json": []}
        elif kind == "content_block_delta":
            await self._delta(self.blocks[int(payload["index"])], payload["delta"], streamed)
        elif kind == "message_delta":
            self.stop_reason = payload.get("delta", {}).get("stop_reason") or self.stop_reason
            self.tokens_out = int((payload.get("usage") or {}).get("output_tokens") or self.tokens_out)
        elif kind == "error":
            raise _stream_error(payload.get("error") or {})

    async def _delta(self, block: dict, delta: dict, streamed: Streamed) -> None:
        if delta["type"] == "text_delta":
            self.text.append(delta["text"])
            await streamed.text(delta["text"])
        elif delta["type"] == "input_json_delta":
            block["json"].append(delta["partial_json"])

    def completion(self) -> Completion:
        calls = tuple(
            ToolCall(block["id"], block["name"], parse_arguments("".join(block["json"])))
            for _, block in sorted(self.blocks.items())
            if block.get("type") == "tool_use"
        )
        return Completion("".join(self.text), calls, self.tokens_in, self.tokens_out, self.stop_reason)


def _stream_error(error: dict) -> Exception:
    kind = str(error.get("type", "error")) if isinstance(error, dict) else "error"
    message = " ".join(str(error.get("message", "") if isinstance(error, dict) else error).split())[:200]
    text = f"{NAME} reported {kind} in the stream" + (f": {message}" if message else "")
    if kind == "overloaded_error":
        return ProviderHTTPError(text, status=OVERLOADED)
    return ProviderProtocolError(text)
