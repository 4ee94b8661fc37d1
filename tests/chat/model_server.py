"""A real HTTP server on 127.0.0.1 playing a model provider: OpenAI-compatible chat completions, Anthropic
Messages, or Bedrock ConverseStream, each streamed in its documented wire format.

Answers are scripted and played in order, the last one repeating: ``stream(chunks)`` (Server-Sent Events,
or AWS event-stream frames for Bedrock), ``status(429, body, retry_after=…)``, ``hang(seconds)`` (says
nothing for that long), ``stall(answer, after, seconds)`` (sends the headers and the first ``after`` chunks
of ``answer``, then nothing for that long, the connection left open). Every request is recorded with its
headers and JSON body, so a test sees what the portal sent (the tool results of the second round, the tools
offered). A refused connection is
``tests.recording_server.closed_port_url()``.
Builders below write the chunks of each protocol: text, tool calls (arguments split over fragments) and usage.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.local_server import LocalServer


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass(frozen=True)
class Answer:
    status: int = 200
    chunks: tuple[bytes, ...] = ()
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    hang: float = 0.0
    content_type: str = "text/event-stream"
    stall: float = 0.0  # after the chunks, keep the connection open and silent this long


def stream(chunks: list[bytes], *, content_type: str = "text/event-stream") -> Answer:
    return Answer(chunks=tuple(chunks), content_type=content_type)


def status(code: int, body: dict | str = "", *, retry_after: int | None = None, headers=()) -> Answer:
    raw = (json.dumps(body) if isinstance(body, dict) else body).encode()
    headers = (*headers, ("Retry-After", str(retry_after))) if retry_after is not None else tuple(headers)
    return Answer(status=code, body=raw, headers=headers, content_type="application/json")


def hang(seconds: float) -> Answer:
    return Answer(hang=seconds)


def stall(answer: Answer, after: int, seconds: float) -> Answer:
    return Answer(chunks=answer.chunks[:after], content_type=answer.content_type, stall=seconds)


@dataclass
class ModelServer(LocalServer):
    answers: list[Answer] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def play(self, *answers: Answer) -> ModelServer:
        self.answers = list(answers)
        self.requests.clear()
        return self

    def _next(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            return self.answers[min(len(self.requests), len(self.answers)) - 1]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else {}
                answer = server._next(
                    Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if answer.hang and server._stop.wait(answer.hang):
                    return
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    for name, value in answer.headers:
                        self.send_header(name, value)
                    if answer.body:
                        self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                    for chunk in answer.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    server._stop.wait(answer.stall)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        return Handler


# --- OpenAI-compatible chat completions (SSE "data:" chunks, then [DONE]) ---


def _data(payload) -> bytes:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()


def _chunk(delta: dict | None = None, finish: str | None = None, **extra) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "test-model",
        "choices": choices,
        **extra,
    }


def openai_text(pieces: list[str], *, tokens: tuple[int, int] = (0, 0)) -> Answer:
    chunks = [_data(_chunk({"role": "assistant", "content": ""}))]
    chunks += [_data(_chunk({"content": piece})) for piece in pieces]
    chunks.append(_data(_chunk({}, "stop")))
    return stream([*chunks, *_openai_end(tokens)])


def openai_tool_calls(calls: list[tuple[str, str, dict]], *, text: str = "", tokens=(0, 0)) -> Answer:
    """(id, tool name, arguments) per call; each call's arguments arrive in three fragments."""
    chunks = [_data(_chunk({"role": "assistant", "content": text or None}))]
    for index, (call_id, name, arguments) in enumerate(calls):
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        chunks.append(_data(_chunk({"tool_calls": [head]})))
        raw = json.dumps(arguments)
        thirds = [raw[: len(raw) // 3], raw[len(raw) // 3 : 2 * len(raw) // 3], raw[2 * len(raw) // 3 :]]
        chunks += [
            _data(_chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
            for part in thirds
        ]
    chunks.append(_data(_chunk({}, "tool_calls")))
    return stream([*chunks, *_openai_end(tokens)])


def _openai_end(tokens: tuple[int, int]) -> list[bytes]:
    usage = {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "total_tokens": sum(tokens)}
    return [_data(_chunk(None, usage=usage)), _data("[DONE]")]


def openai_raw(*chunks: str) -> Answer:
    return stream([_data(chunk) for chunk in chunks])


# --- Anthropic Messages (named SSE events) ---


def _event(name: str, payload: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n".encode()


def anthropic_answer(
    pieces: list[str] = (), calls: list[tuple[str, str, dict]] = (), *, tokens=(0, 0)
) -> Answer:
    """A message of one text block (``pieces``) then one tool_use block per call, with usage."""
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "content": []}
    chunks = [
        _event(
            "message_start",
            {"message": {**message, "usage": {"input_tokens": tokens[0], "output_tokens": 1}}},
        )
    ]
    chunks.append(b'event: ping\ndata: {"type": "ping"}\n\n')
    index = 0
    if pieces:
        chunks.append(
            _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        )
        chunks += [
            _event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
            for piece in pieces
        ]
        chunks.append(_event("content_block_stop", {"index": 0}))
        index = 1
    for offset, (call_id, name, arguments) in enumerate(calls):
        at = index + offset
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        chunks.append(_event("content_block_start", {"index": at, "content_block": block}))
        raw = json.dumps(arguments)
        for part in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            delta = {"type": "input_json_delta", "partial_json": part}
            chunks.append(_event("content_block_delta", {"index": at, "delta": delta}))
        chunks.append(_event("content_block_stop", {"index": at}))
    stop = "tool_use" if calls else "end_turn"
    chunks.append(
        _event("message_delta", {"delta": {"stop_reason": stop}, "usage": {"output_tokens": tokens[1]}})
    )
    chunks.append(_event("message_stop", {}))
    return stream(chunks)


def anthropic_raw(*events: bytes) -> Answer:
    return stream(list(events))


# --- Bedrock ConverseStream (application/vnd.amazon.eventstream frames) ---


def _header(name: str, value: str) -> bytes:
    raw = value.encode()
    return bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw


def event_frame(event_type: str, payload: dict) -> bytes:
    """One AWS event-stream message: prelude (total length, headers length, CRC32), headers, JSON
    payload, CRC32 of the whole message."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def bedrock_answer(
    pieces: list[str] = (), calls: list[tuple[str, str, dict]] = (), *, tokens=(0, 0)
) -> Answer:
    frames = [event_frame("messageStart", {"role": "assistant"})]
    for piece in pieces:
        frames.append(event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}))
    if pieces:
        frames.append(event_frame("contentBlockStop", {"contentBlockIndex": 0}))
    for offset, (call_id, name, arguments) in enumerate(calls, start=1 if pieces else 0):
        start = {"toolUse": {"toolUseId": call_id, "name": name}}
        frames.append(event_frame("contentBlockStart", {"contentBlockIndex": offset, "start": start}))
        raw = json.dumps(arguments)
        for part in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            delta = {"contentBlockIndex": offset, "delta": {"toolUse": {"input": part}}}
            frames.append(event_frame("contentBlockDelta", delta))
        frames.append(event_frame("contentBlockStop", {"contentBlockIndex": offset}))
    frames.append(event_frame("messageStop", {"stopReason": "tool_use" if calls else "end_turn"}))
    usage = {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)}
    frames.append(event_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 5}}))
    return stream(frames, content_type="application/vnd.amazon.eventstream")


# --- asking the model loop as a chat user would ---


@dataclass
class Asked:
    events: list[dict]
    outcome: object = None
    error: Exception | None = None

    @property
    def text(self) -> str:
        return "".join(event["text"] for event in self.events if event["type"] == "delta")

    def of(self, kind: str) -> list[dict]:
        return [event for event in self.events if event["type"] == kind]


def ask_model(config, world, question: str, *, user=None, tenant=None, history=(), today=None) -> Asked:
    """``chat.llm.answer_with_model`` run from this (sync) test thread as ``user`` of ``tenant``; the tools'
    database calls come back to this thread, inside the test's transaction. A ModelUnavailable is kept."""
    from datetime import date

    from asgiref.sync import async_to_sync

    from chat.llm import ModelUnavailable, answer_with_model
    from chat.tools import ToolContext
    from tenants.models import Membership

    tenant, user = tenant or world.tenant, user or world.alice
    ctx = ToolContext(Membership.objects.of(user, tenant), user, tenant, today or date(2026, 1, 12))
    asked = Asked([])

    async def emit(event: dict) -> None:
        asked.events.append(event)

    async def run():
        return await answer_with_model(config, question=question, history=list(history), ctx=ctx, emit=emit)

    try:
        asked.outcome = async_to_sync(run)()
    except ModelUnavailable as error:
        asked.error = error
    return asked
