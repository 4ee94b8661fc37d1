"""Chat's tenant-schema models: conversations and their messages, and the audit of the assistant's tool calls.

A conversation belongs to one user of the tenant; nobody else (not even the tenant's owner) reads it. An
assistant message is written while it streams: ``content`` grows as the answer arrives, so a socket that
reconnects resumes from what is stored, and ``state`` says whether it is still being written.
"""

import uuid

from django.db import models
from django.utils import timezone

from jobs.models import user_link

TITLE_LENGTH = 120


class ConversationQuerySet(models.QuerySet):
    def of(self, user) -> "ConversationQuerySet":
        """The user's own conversations: the only ones anybody may list, read, rename or delete."""
        return self.filter(user=user) if getattr(user, "pk", None) else self.none()

    def visible_to(self, membership) -> "ConversationQuerySet":
        """For the API's ScopedViewSet: a member's own conversations (a membership's user, in its tenant)."""
        return self.filter(user_id=membership.user_id) if membership is not None else self.none()


class Conversation(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = user_link(optional=False)
    title = models.CharField(max_length=TITLE_LENGTH, blank=True)
    context = models.JSONField(
        default=dict, blank=True, help_text="What the last answers were about (workset, profile), for “it”."
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated", "-id"]

    def __str__(self) -> str:
        return self.title or str(self.code)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class State(models.TextChoices):
        STREAMING = "streaming", "Streaming"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True, help_text="Markdown; an assistant's grows while it streams.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    lookups = models.JSONField(default=list, blank=True, help_text="The tool cards: what was looked up.")
    pending = models.JSONField(
        default=list, blank=True, help_text="Changes the assistant proposed, waiting for the user to confirm."
    )
    notice = models.TextField(blank=True, help_text="Shown above the answer, e.g. a provider's fallback.")
    provider = models.CharField(max_length=20, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now, help_text="Moves on every stored piece of a stream.")

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ToolCallRecord(models.Model):
    """One call of an assistant tool, answered or refused: who, which tool, with what, how much came back."""

    user = user_link()
    tool = models.CharField(max_length=64, db_index=True)
    arguments = models.JSONField(default=dict, blank=True)
    result_bytes = models.PositiveIntegerField(default=0, help_text="The JSON-dumped result's size.")
    truncated = models.BooleanField(default=False)
    error = models.TextField(blank=True, help_text="Why the call was refused; empty when it answered.")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.tool} ({'refused' if self.error else f'{self.result_bytes} B'})"
