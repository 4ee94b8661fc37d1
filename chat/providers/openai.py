"""OpenAI-compatible Chat Completions, streamed, with tool calling (OpenAI, Ollama, vLLM, LiteLLM…).

Protocol (OpenAI API reference, "Chat Completions" and "Streaming"; the chunk object
``chat.completion.chunk``): ``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>``,
``"stream": true`` and ``"stream_options": {"include_usage": true}``. The answer is Server-Sent Events of
``data: {chunk}`` lines ending with ``data: [DONE]``. Each chunk's ``choices[0].delta`` carries ``content``
(text) and/or ``tool_calls`` fragments: ``{"index", "id"?, "type"?, "function": {"name"?, "arguments"}}``,
where ``id`` and ``name`` come in the first fragment of an index and ``arguments`` is a JSON text split over
fragments. ``finish_reason`` is ``"tool_calls"`` when the model wants tools run; the last chunk before
``[DONE]`` has empty ``choices`` and ``usage: {"prompt_tokens", "completion_tokens"}``. Tool results go back
as ``{"role": "tool", "tool_call_id", "content"}`` after the assistant message that holds the
``tool_calls``.
"""

from __future__ import annotations

import json

from chat.providers.base import (
    AssistantTurn,
    Completion,
    ProviderProtocolError,
    Streamed,
    ToolCall,
    ToolResults,
    ToolSpec,
    Turn,
    UserText,
    parse_arguments,
    token_count,
)
from chat.providers.http import StreamingHTTPProvider, json_event, sse_events

NAME = "The OpenAI-compatible provider"


class OpenAIProvider(StreamingHTTPProvider):
    kind = "openai"
    name = NAME

    def url(self) -> str:
        return self.config.base_url.rstrip("/") + "/chat/completions"

    def headers(self) -> dict:
        headers = {"Accept": "text/event-stream"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    async def read(self, response, streamed: Streamed) -> Completion:
        return await read_stream(response, streamed)

    def request_body(self, system: str, turns: list[Turn], tools: list[ToolSpec], *, use_tools: bool) -> dict:
        body: dict = {
            "model": self.config.model,
            "messages": [{"role": "system", "content": system}, *wire_messages(turns)],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": self.config.max_tokens,
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools
            ]
            body["tool_choice"] = "auto" if use_tools else "none"
        return body


def wire_messages(turns: list[Turn]) -> list[dict]:
    messages: list[dict] = []
    for turn in turns:
        if isinstance(turn, UserText):
            messages.append({"role": "user", "content": turn.text})
        elif isinstance(turn, AssistantTurn):
            message: dict = {"role": "assistant", "content": turn.text or None}
            if turn.tool_calls:
                message["tool_calls"] = [_wire_call(call) for call in turn.tool_calls]
            messages.append(message)
        elif isinstance(turn, ToolResults):
            messages += [
                {"role": "tool", "tool_call_id": out.call.id, "content": out.json} for out in turn.outputs
            ]
    return messages


def _wire_call(call: ToolCall) -> dict:
    arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


async def read_stream(response, streamed: Streamed) -> Completion:
    text: list[str] = []
    calls: dict[int, dict] = {}
    usage: dict = {}
    finish = ""
    async for _, data in sse_events(response):
        if data.strip() == "[DONE]":
            return _completion(text, calls, usage, finish)
        chunk = json_event(NAME, data)
        if chunk.get("error"):
            raise ProviderProtocolError(f"{NAME} reported an error in the stream: {_said(chunk['error'])}")
        try:
            usage = chunk["usage"] if isinstance(chunk.get("usage"), dict) else usage
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    text.append(delta["content"])
                    await streamed.text(delta["content"])
                for fragment in delta.get("tool_calls") or ():
                    _merge(calls, fragment)
                finish = choice.get("finish_reason") or finish
        except (AttributeError, TypeError, KeyError) as error:
            raise ProviderProtocolError(f"{NAME} sent a malformed chunk ({error})") from None
    if finish:  # a few compatible servers end without [DONE]
        return _completion(text, calls, usage, finish)
    raise ProviderProtocolError(f"{NAME} ended the stream before it finished (no [DONE])")


def _merge(calls: dict[int, dict], fragment: dict) -> None:
    """Fragments are assembled by ``index``: id and name once, the arguments' text piece by piece."""
    slot = calls.setdefault(int(fragment.get("index", 0)), {"id": "", "name": "", "arguments": []})
    function = fragment.get("function") or {}
    slot["id"] = fragment.get("id") or slot["id"]
    slot["name"] = function.get("name") or slot["name"]
    if function.get("arguments"):
        slot["arguments"].append(str(function["arguments"]))


def _completion(text: list[str], calls: dict[int, dict], usage: dict, finish: str) -> Completion:
    tool_calls = tuple(
        ToolCall(slot["id"] or f"call_{index}", slot["name"], parse_arguments("".join(slot["arguments"])))
        for index, slot in sorted(calls.items())
    )
    if any(not call.name for call in tool_calls):
        raise ProviderProtocolError(f"{NAME} asked for a tool call without a tool name")
    return Completion(
        "".join(text),
        tool_calls,
        tokens_in=token_count(usage.get("prompt_tokens")),
        tokens_out=token_count(usage.get("completion_tokens")),
        stop_reason=finish,
    )


def _said(error) -> str:
    message = error.get("message", "") if isinstance(error, dict) else str(error)
    return " ".join(str(message).split())[:200]
