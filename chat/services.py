"""Chat's writes: conversations (start, rename, delete), questions and the replies that stream into them.

Every function runs in the current tenant schema and takes the acting user; a conversation is only ever
reached through ``Conversation.objects.of(user)``, so nobody acts on another user's (or tenant's) history.
A question and the empty reply it will stream into are written together, so a reconnecting page always
finds both; the reply then grows with ``save_progress`` and ends with ``finish_reply`` or ``fail_reply``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from chat.models import TITLE_LENGTH, Conversation, Message
from tenants.services.audit import record_event

MAX_QUESTION = 4000
HISTORY_TURNS = 10
STALE_STREAM = timedelta(minutes=3)
INTERRUPTED = "This answer was interrupted (the server restarted or lost it). Please ask again."


class RateLimited(Exception):
    """Too many questions from one user in the last minute; the message says when to try again."""


def start_conversation(*, actor, title: str = "") -> Conversation:
    conversation = Conversation.objects.create(user=actor, title=_title(title))
    _event("chat.conversation_started", actor, target=str(conversation.code))
    return conversation


def rename_conversation(conversation: Conversation, title: str, *, actor) -> Conversation:
    title = title.strip()
    if not title:
        raise ValidationError({"title": "Give the conversation a name."})
    if len(title) > TITLE_LENGTH:
        raise ValidationError({"title": f"Keep the name under {TITLE_LENGTH} characters."})
    conversation.title = title
    conversation.save(update_fields=["title"])
    _event("chat.conversation_renamed", actor, target=str(conversation.code), title=title)
    return conversation


def delete_conversation(conversation: Conversation, *, actor) -> None:
    code = str(conversation.code)
    conversation.delete()
    _event("chat.conversation_deleted", actor, target=code)


def post_question(
    conversation: Conversation | None, text: str, *, actor
) -> tuple[Conversation, Message, Message]:
    """The question and its (empty, streaming) reply, in a new conversation when none is given."""
    text = _question(text)
    _check_rate(actor)
    with transaction.atomic():
        if conversation is None:
            conversation = start_conversation(actor=actor, title=text)
        question = conversation.messages.create(role=Message.Role.USER, content=text)
        reply = conversation.messages.create(role=Message.Role.ASSISTANT, state=Message.State.STREAMING)
        conversation.updated = timezone.now()
        conversation.save(update_fields=["updated"])
    return conversation, question, reply


def save_progress(reply_id: int, content: str) -> None:
    """Store what has streamed so far (only while the reply is still streaming)."""
    Message.objects.filter(pk=reply_id, state=Message.State.STREAMING).update(
        content=content, updated=timezone.now()
    )


def finish_reply(reply_id: int, *, content: str, context: dict | None = None, **fields) -> Message | None:
    """The whole answer, its cards and pending changes; the conversation remembers ``context``. Idempotent:
    a reply that already ended is left as it is (None)."""
    with transaction.atomic():
        reply = _streaming(reply_id)
        if reply is None:
            return None
        for name, value in fields.items():
            setattr(reply, name, value)
        reply.content, reply.state, reply.updated = content, Message.State.DONE, timezone.now()
        reply.save()
        conversation = reply.conversation
        if context is not None:
            conversation.context = context
        conversation.updated = timezone.now()
        conversation.save(update_fields=["context", "updated"])
    return reply


def fail_reply(reply_id: int, reason: str) -> Message | None:
    with transaction.atomic():
        reply = _streaming(reply_id)
        if reply is None:
            return None
        reply.state, reply.notice, reply.updated = Message.State.FAILED, reason, timezone.now()
        reply.save(update_fields=["state", "notice", "updated"])
    return reply


def add_reply(conversation: Conversation, *, content: str, **fields) -> Message:
    """A finished assistant message (e.g. the result of a change the user confirmed)."""
    with transaction.atomic():
        reply = conversation.messages.create(role=Message.Role.ASSISTANT, content=content, **fields)
        conversation.updated = timezone.now()
        conversation.save(update_fields=["updated"])
    return reply


def claim_pending(reply: Message, index: int, *, accept: bool, actor) -> dict:
    """Mark the reply's proposed change ``index`` confirmed or declined, once: the change to run (or to
    leave), or ValidationError when it is unknown or was already answered (a second click, another tab)."""
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=reply.pk)
        pending = list(locked.pending)
        if not 0 <= index < len(pending) or pending[index].get("state") != "waiting":
            raise ValidationError("That change was already answered or does not exist.")
        pending[index] = {**pending[index], "state": "confirmed" if accept else "declined"}
        locked.pending = pending
        locked.save(update_fields=["pending"])
        _event(
            "chat.change_confirmed" if accept else "chat.change_declined",
            actor,
            target=str(locked.conversation.code),
            tool=pending[index].get("tool", ""),
            arguments=pending[index].get("arguments", {}),
        )
    return pending[index]


def end_stale_streams(conversation: Conversation) -> int:
    """Replies left streaming by a process that died are marked failed, so the page does not wait forever."""
    cutoff = timezone.now() - STALE_STREAM
    return conversation.messages.filter(state=Message.State.STREAMING, updated__lt=cutoff).update(
        state=Message.State.FAILED, notice=INTERRUPTED
    )


def history(conversation: Conversation, *, before: Message) -> list[dict]:
    """The last turns before ``before``, oldest first, as ``{"role", "content"}`` for a model."""
    earlier = conversation.messages.filter(id__lt=before.pk, state=Message.State.DONE).exclude(content="")
    turns = list(earlier.order_by("-id")[: HISTORY_TURNS * 2])
    return [{"role": message.role, "content": message.content} for message in reversed(turns)]


def _streaming(reply_id: int) -> Message | None:
    return (
        Message.objects.select_for_update()
        .select_related("conversation")
        .filter(pk=reply_id, state=Message.State.STREAMING)
        .first()
    )


def _question(text) -> str:
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise ValidationError({"text": "Type a question first."})
    if len(text) > MAX_QUESTION:
        raise ValidationError({"text": f"Keep a question under {MAX_QUESTION:,} characters."})
    return text


def _check_rate(user) -> None:
    """At most ``RUNYARD_CHAT_MESSAGES_PER_MINUTE`` questions per user per minute, counted from the stored
    messages themselves, so every process and socket sees the same count."""
    limit = settings.RUNYARD_CHAT_MESSAGES_PER_MINUTE
    since = timezone.now() - timedelta(minutes=1)
    recent = Message.objects.filter(conversation__user=user, role=Message.Role.USER, created__gte=since)
    if recent.count() >= limit:
        oldest = recent.order_by("created").values_list("created", flat=True).first()
        wait = max(1, int((oldest + timedelta(minutes=1) - timezone.now()).total_seconds()) + 1)
        raise RateLimited(f"You have asked {limit} questions in the last minute; try again in {wait} s.")


def _event(action: str, actor, *, target: str, **data) -> None:
    record_event(action, actor=actor, tenant=connection.tenant, target=target, **data)


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59].rstrip() + "…"
