"""How a question becomes a streamed, stored answer, in the process that holds the user's websocket.

The answer runs as an asyncio task beside the socket, not inside it: closing the tab (or a dropped
connection) does not stop it, every piece is published to the user's channel-layer group (so any of their
sockets, including one that reconnects, hears the rest) and the text so far is stored every
``FLUSH_SECONDS`` (so a page that opens the conversation later starts from it). It runs here rather than in a
Celery worker because a single-machine install has no Redis: the in-memory channel layer reaches only the
sockets of this process.

The answerer is the tenant's configured model (``chat.llm``) when operators set one, else the built-in
analyst; a model that fails falls back to the analyst with a notice the user sees. Tool calls go through
``chat.cards.run_tool``/``chat.tools.call_tool`` in both cases, so scope, roles and the audit are enforced
in code, whatever a model asks for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from channels.layers import get_channel_layer

from chat import assistant, llm, services
from chat.analyst.compose import chunks, title
from chat.analyst.plan import Call
from chat.cards import BROKEN, card
from chat.models import Conversation, Message
from chat.tools import ToolContext
from portal.lib.live import group_name
from portal.metrics import CHAT_ANSWER_LATENCY, tenant_label
from portal.websocket import in_tenant

log = logging.getLogger(__name__)

PIECE = 24  # characters per streamed piece of a composed answer
PAUSE = 0.01  # seconds between pieces, so a composed answer streams like a model's
SEND_SECONDS = 0.03  # text pieces that arrive sooner than this after the last one go out together
FLUSH_SECONDS = 0.25
FAILED = f"Sorry, {BROKEN}. Please ask again."

Publish = Callable[[dict], Awaitable[None]]
_running: set[asyncio.Task] = set()


@dataclass(frozen=True)
class Turn:
    """One question being answered: who asks (``ctx``), into which stored reply, with what history."""

    ctx: ToolContext
    conversation: str
    reply_id: int
    question: str
    history: list = field(default_factory=list)
    context: dict = field(default_factory=dict)


def message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "role": message.role,
        "content": message.content,
        "state": message.state,
        "lookups": message.lookups,
        "pending": message.pending,
        "notice": message.notice,
        "provider": message.provider,
        "created": message.created.isoformat(),
    }


def message_event(conversation: Conversation, message: Message) -> dict:
    """A new or changed message, with its conversation (so a page can adopt a conversation just started)."""
    return {
        "type": "message",
        "conversation": str(conversation.code),
        "about": conversation_payload(conversation),
        "message": message_payload(message),
    }


def conversation_payload(conversation: Conversation) -> dict:
    return {
        "code": str(conversation.code),
        "title": str(conversation),
        "updated": conversation.updated.isoformat(),
    }


def begin(
    conversation: Conversation | None, text, ctx: ToolContext
) -> tuple[Conversation, Message, Message, Turn]:
    """Store the question and its empty reply (in the current tenant schema); and the turn that answers it.
    ValidationError for a bad question, ``services.RateLimited`` for one too many."""
    conversation, question, reply = services.post_question(conversation, text, actor=ctx.user)
    history = services.history(conversation, before=question)
    turn = Turn(ctx, str(conversation.code), reply.pk, question.content, history, conversation.context)
    return conversation, question, reply, turn


def user_group(ctx: ToolContext) -> str:
    """The channel-layer group of one user's chat sockets in one tenant."""
    return group_name(ctx.tenant.schema_name, f"chat.{ctx.user.pk}")


def publisher(group: str) -> Publish:
    """Publishing is best effort: while the channel layer is down (Redis restarting) the reply goes on and
    is stored; the user's sockets closed with the layer, and a page that reconnects reads the stored reply."""

    async def publish(event: dict) -> None:
        try:
            await get_channel_layer().group_send(group, {"type": "chat.event", "event": event})
        except Exception as error:  # noqa: BLE001 - any failure of the layer loses this live event only
            log.warning("chat event to %s not sent: %s: %s", group, type(error).__name__, error)

    return publish


def start(turn: Turn, publish: Publish) -> asyncio.Task:
    """Answer ``turn`` in the background of this process's event loop."""
    task = asyncio.get_running_loop().create_task(answer(turn, publish), name=f"chat-reply-{turn.reply_id}")
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


class Stream:
    """The reply being written: text published at most every SEND_SECONDS (pieces that arrive sooner go
    out together, so a fast model cannot flood the channel layer; held text goes out SEND_SECONDS after the
    last piece even if nothing follows, as when a model stalls), other events at once, and the text stored
    every FLUSH_SECONDS."""

    def __init__(self, turn: Turn, publish: Publish):
        self.turn, self.publish = turn, publish
        self.content, self.lookups, self.pending, self.notice = "", [], [], ""
        self._stored = self._sent = time.monotonic()
        self._unsent_from = 0  # where the text not yet published starts
        self._held: asyncio.Task | None = None  # publishes held text once SEND_SECONDS have passed

    async def emit(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "delta" and event.get("text"):
            self.content += event["text"]
            waited = time.monotonic() - self._sent
            if waited >= SEND_SECONDS:
                await self.send_text()
            elif self._held is None:
                self._held = asyncio.get_running_loop().create_task(self._send_held(SEND_SECONDS - waited))
            await self._store_now_and_then()
        elif kind == "lookup":
            self.lookups.append(event["card"])
            await self.send_text()
            await self._send({"type": "lookup", "card": event["card"]})
        elif kind == "pending":
            self.pending.append({**event["call"], "state": "waiting"})
            await self.send_text()
            await self._send({"type": "pending", "pending": self.pending})

    async def send_text(self) -> None:
        """Publish the text that arrived since the last piece went out, with its offset."""
        if self._held is not asyncio.current_task():
            self.drop_held()  # still waiting: this send takes its text
        self._held, self._sent = None, time.monotonic()
        if len(self.content) > self._unsent_from:
            offset, self._unsent_from = self._unsent_from, len(self.content)
            await self._send({"type": "delta", "offset": offset, "text": self.content[offset:]})

    def drop_held(self) -> None:
        """Forget the held send: its text goes out with the caller's send, or not at all (a failed reply)."""
        if self._held is not None:
            self._held.cancel()
            self._held = None

    async def _send_held(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.send_text()

    async def restart(self, notice: str) -> None:
        """Drop the text so far (a model that failed midway) and say why; the cards stay, they happened."""
        self.content, self.notice, self._unsent_from = "", notice, 0
        await self._send({"type": "reset", "notice": notice})
        await _in_tenant(self.turn, services.save_progress, self.turn.reply_id, "")

    async def _send(self, event: dict) -> None:
        await self.publish({**event, "conversation": self.turn.conversation, "message": self.turn.reply_id})

    async def _store_now_and_then(self) -> None:
        if time.monotonic() - self._stored >= FLUSH_SECONDS:
            self._stored = time.monotonic()
            await _in_tenant(self.turn, services.save_progress, self.turn.reply_id, self.content)


async def answer(turn: Turn, publish: Publish, *, pause: float = PAUSE) -> Message | None:
    """Write the reply of ``turn`` (publishing each piece); the finished message, or None if it had ended."""
    stream = Stream(turn, publish)
    started, outcome = time.perf_counter(), "ok"
    try:
        provider, context, tokens = await _answer(turn, stream, pause)
        await stream.send_text()
        finished = await _in_tenant(
            turn,
            services.finish_reply,
            turn.reply_id,
            content=stream.content,
            context=context,
            lookups=stream.lookups,
            pending=stream.pending,
            notice=stream.notice,
            provider=provider,
            tokens_in=tokens[0],
            tokens_out=tokens[1],
        )
    except Exception:
        log.exception("Chat reply %s failed", turn.reply_id)
        outcome = "failed"
        stream.drop_held()
        finished = await _in_tenant(turn, services.fail_reply, turn.reply_id, FAILED)
    CHAT_ANSWER_LATENCY.labels(tenant_label(turn.ctx.tenant), outcome).observe(time.perf_counter() - started)
    if finished is not None:
        await publish(
            {"type": "done", "conversation": turn.conversation, "message": message_payload(finished)}
        )
    return finished


async def _answer(turn: Turn, stream: Stream, pause: float) -> tuple[str, dict, tuple[int, int]]:
    """(provider, the conversation's context afterwards, (tokens in, tokens out))."""
    config = await _in_tenant(turn, llm.config_for, turn.ctx.tenant)
    if config is not None:
        try:
            outcome = await llm.answer_with_model(
                config, question=turn.question, history=turn.history, ctx=turn.ctx, emit=stream.emit
            )
        except llm.ModelUnavailable as error:
            if error.outcome is not None:  # tokens the model used before it failed are billed too
                await _in_tenant(
                    turn, llm.record_tokens, turn.ctx.tenant, error.outcome, message_id=turn.reply_id
                )
            await stream.restart(f"{error} The built-in analyst answered instead.")
        else:
            await _in_tenant(turn, llm.record_tokens, turn.ctx.tenant, outcome, message_id=turn.reply_id)
            return outcome.provider, turn.context, (outcome.tokens_in, outcome.tokens_out)
    return "analyst", await _analyst(turn, stream, pause), (0, 0)


async def _analyst(turn: Turn, stream: Stream, pause: float) -> dict:
    reply = await _in_tenant(turn, assistant.ask, turn.question, turn.ctx, context=turn.context)
    for lookup in reply.lookups:
        if lookup.result is not None or lookup.refusal is not None:
            arguments = dict(lookup.call.arguments)
            await stream.emit(
                {
                    "type": "lookup",
                    "card": card(lookup.call.tool, arguments, result=lookup.result, refusal=lookup.refusal),
                }
            )
    for held in reply.pending:
        call = {"tool": held.call.tool, "arguments": dict(held.call.arguments), "prompt": held.prompt}
        await stream.emit({"type": "pending", "call": call})
    for piece in chunks(reply.answer.markdown, PIECE):
        await stream.emit({"type": "delta", "text": piece})
        await asyncio.sleep(pause)
    return reply.context


async def settle(ctx: ToolContext, reply: Message, index: int, *, accept: bool) -> tuple[Message, Message]:
    """The user's answer to a proposed change: run it (once, through the tools' checks) or leave it.
    Returns the reply with its updated pending list and the new message that reports the outcome."""
    claimed = await _in_ctx(ctx, services.claim_pending, reply, index, accept=accept, actor=ctx.user)
    call = Call(claimed["tool"], dict(claimed.get("arguments") or {}))
    if accept:
        outcome = await _in_ctx(ctx, assistant.confirm, call, ctx, context=reply.conversation.context)
        lookups = [
            card(item.call.tool, dict(item.call.arguments), result=item.result, refusal=item.refusal)
            for item in outcome.lookups
        ]
        content = outcome.answer.markdown
    else:
        lookups, content = [], f"Left as it was: nothing was done ({title(call)})."
    note = await _in_ctx(
        ctx, services.add_reply, reply.conversation, content=content, lookups=lookups, provider="analyst"
    )
    return await _in_ctx(ctx, Message.objects.select_related("conversation").get, pk=reply.pk), note


async def _in_tenant(turn: Turn, function, *args, **kwargs):
    return await _in_ctx(turn.ctx, function, *args, **kwargs)


async def _in_ctx(ctx: ToolContext, function, *args, **kwargs):
    return await in_tenant(ctx.tenant, function, *args, **kwargs)
