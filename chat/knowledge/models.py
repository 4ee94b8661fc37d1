"""The knowledge base: documents split into chunks that PostgreSQL full-text search can rank.

The app is in both SHARED_APPS and TENANT_APPS: rows in the public schema are the operators' global
documents (runbooks, the diagnostics and pipeline catalogues), rows in a tenant's schema are that tenant's
own. The schema is the boundary, so there is no tenant foreign key.
"""

import uuid

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

from jobs.models import user_link


class Document(models.Model):
    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        DIAGNOSTICS = "diagnostics", "Diagnostics catalogue"
        PIPELINES = "pipelines", "Pipeline catalogue"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.UPLOAD)
    filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes of the uploaded file.")
    uploaded_by = user_link()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            # A catalogue is indexed as one document, rebuilt in place (so its code and links stay put).
            models.UniqueConstraint(
                fields=["source"], condition=~models.Q(source="upload"), name="knowledge_one_per_catalogue"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    heading = models.CharField(max_length=300, blank=True, help_text="The section it belongs to.")
    text = models.TextField()
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="knowledge_chunk_ordinal")
        ]
        indexes = [GinIndex(fields=["search_vector"], name="knowledge_chunk_search")]

    def __str__(self) -> str:
        return f"{self.document} › {self.heading or self.ordinal}"
