"""Chat's tenant-schema models: so far the audit of the assistant's tool calls."""

from django.db import models
from django.utils import timezone

from jobs.models import user_link


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
