"""The chat page at ``/chat/``: the user's conversations, one open, and the form that asks over ``/ws/chat/``.

A conversation is the user's own: another member (or tenant) asking for it gets 404. Renaming and deleting
are plain form posts through ``chat.services``; asking and the streamed answers go over the websocket
(``chat.consumers``), so the page needs no reload.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from chat import engine, services
from chat.analyst.examples import examples_for
from chat.models import Conversation
from chat.services import MAX_QUESTION

LISTED = 100


def get_conversation_for_user(request, code) -> Conversation:
    return get_object_or_404(Conversation.objects.of(request.user), code=code)


def chat(request, code=None):
    conversation = get_conversation_for_user(request, code) if code else None
    stored = []
    if conversation is not None:
        services.end_stale_streams(conversation)
        stored = [engine.message_payload(message) for message in conversation.messages.all()]
    context = {
        "conversation": conversation,
        "conversations": Conversation.objects.of(request.user)[:LISTED],
        "stored": stored,
        "examples": examples_for(request.membership),
        "max_question": MAX_QUESTION,
    }
    return render(request, "chat/chat.html", context)


@require_POST
def rename(request, code):
    conversation = get_conversation_for_user(request, code)
    try:
        services.rename_conversation(conversation, request.POST.get("title", ""), actor=request.user)
    except ValidationError as error:
        for problem in error.messages:
            messages.error(request, problem)
    return redirect("chat_conversation", code=conversation.code)


@require_POST
def delete(request, code):
    conversation = get_conversation_for_user(request, code)
    services.delete_conversation(conversation, actor=request.user)
    messages.success(request, f"Deleted “{conversation}”.")
    return redirect("chat")
