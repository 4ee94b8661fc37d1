"""``/ws/chat/``: ask, watch the answer stream in, confirm or decline a proposed change.

The socket joins its user's group in its tenant (``<schema>.chat.<user id>``): every tab of the user hears the
same conversation events, and nobody else's. The origin is checked by the ASGI stack
(``AllowedHostsOriginValidator``) and the tenant comes from the Host, the user from the session.

From the browser (JSON): ``{"type": "open", "conversation": code|null}``, ``{"type": "ask", "conversation":
code|null, "text": …}``, ``{"type": "confirm", "message": id, "index": n, "accept": true|false}``.
To the browser: ``ready``; ``conversation`` (the conversation and its stored messages, answering ``open``);
``message`` (a new or changed message, with its conversation); ``delta`` (``offset`` = length of the text
before it), ``lookup``, ``pending``, ``reset`` and ``done`` for a reply being written; ``error`` with a
``code`` (``invalid``, ``not_found``, ``rate_limited``) and a ``message``, plus ``fields`` for bad input.
"""

from __future__ import annotations

import json
import uuid

from django.core.exceptions import ValidationError

from chat import engine, services
from chat.models import Conversation, Message
from chat.tools import ToolContext
from portal.consumers import TenantConsumer
from portal.websocket import in_tenant


class ChatConsumer(TenantConsumer):
    group: str | None = None

    async def on_accepted(self):
        self.user = self.scope["user"]
        self.group = engine.user_group(self.context())
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "ready"})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json.loads(text_data or "")
        except (ValueError, RecursionError):  # nested past json's recursion limit is not a crash either
            await self.error("invalid", "Send one JSON object per message.")
            return
        handler = {"open": self.open, "ask": self.ask, "confirm": self.confirm}.get(
            content.get("type") if isinstance(content, dict) else None
        )
        if handler is None:
            await self.error("invalid", 'Send {"type": "open" | "ask" | "confirm", …}.')
            return
        await handler(content)

    async def chat_event(self, event):
        await self.send_json(event["event"])

    # --- what the browser asks for ---

    async def open(self, content):
        code = content.get("conversation")
        if code in (None, ""):
            await self.send_json({"type": "conversation", "conversation": None, "messages": []})
            return
        conversation = await self.conversation(code)
        if conversation is None:
            await self.error("not_found", "There is no such conversation.")
            return
        messages = await self.db(self._opened, conversation)
        payload = engine.conversation_payload(conversation)
        await self.send_json({"type": "conversation", "conversation": payload, "messages": messages})

    async def ask(self, content):
        code = content.get("conversation")
        conversation = None
        if code not in (None, ""):
            conversation = await self.conversation(code)
            if conversation is None:
                await self.error("not_found", "There is no such conversation.")
                return
        try:
            conversation, question, reply, turn = await self.db(
                engine.begin, conversation, content.get("text"), self.context()
            )
        except ValidationError as error:
            await self.error("invalid", " ".join(error.messages), fields=_fields(error))
            return
        except services.RateLimited as error:
            await self.error("rate_limited", str(error))
            return
        for message in (question, reply):
            await self.publish(engine.message_event(conversation, message))
        engine.start(turn, self.publish)

    async def confirm(self, content):
        message_id, index = content.get("message"), content.get("index")
        if (
            not isinstance(message_id, int)
            or not isinstance(index, int)
            or not isinstance(content.get("accept"), bool)
        ):
            await self.error(
                "invalid", 'Send {"type": "confirm", "message": id, "index": n, "accept": true|false}.'
            )
            return
        reply = await self.db(self._reply, message_id)
        if reply is None:
            await self.error("not_found", "There is no such message.")
            return
        try:
            reply, note = await engine.settle(self.context(), reply, index, accept=content["accept"])
        except ValidationError as error:
            await self.error("invalid", " ".join(error.messages))
            return
        for message in (reply, note):
            await self.publish(engine.message_event(reply.conversation, message))

    # --- helpers ---

    def context(self) -> ToolContext:
        return ToolContext(membership=self.membership, user=self.user, tenant=self.tenant)

    async def publish(self, event: dict) -> None:
        await engine.publisher(self.group)(event)

    async def error(self, code: str, message: str, **extra) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def conversation(self, code) -> Conversation | None:
        try:
            code = uuid.UUID(str(code))
        except ValueError:
            return None
        return await self.db(lambda: Conversation.objects.of(self.user).filter(code=code).first())

    def _opened(self, conversation: Conversation) -> list[dict]:
        services.end_stale_streams(conversation)
        return [engine.message_payload(message) for message in conversation.messages.all()]

    def _reply(self, message_id: int) -> Message | None:
        mine = Message.objects.select_related("conversation").filter(
            conversation__in=Conversation.objects.of(self.user)
        )
        return mine.filter(pk=message_id, role=Message.Role.ASSISTANT).first()

    async def db(self, function, *args, **kwargs):
        return await in_tenant(self.tenant, function, *args, **kwargs)


def _fields(error: ValidationError) -> dict:
    return error.message_dict if hasattr(error, "error_dict") else {}
