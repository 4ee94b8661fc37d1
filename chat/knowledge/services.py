"""Use cases of the knowledge base: add and delete a document, index the catalogues, and search.

A document and its chunks are written in one transaction, and each chunk's search vector is set in the
same transaction (heading weighs A, text B), so a document is either searchable whole or not there at all.
``search`` reads the current tenant's schema and the public schema (the operators' global documents) and
ranks both together; nothing else crosses a schema.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Value
from django.urls import reverse
from django_tenants.utils import get_public_schema_name, schema_context

from chat.knowledge.models import Chunk, Document
from chat.knowledge.reading import Passage, Unreadable, read_document
from tenants.services.audit import record_event

MAX_BYTES = 5 * 1024 * 1024
MAX_LIMIT = 20
CONFIG = "english"
TENANT_URLS = "portal.urls"  # citations point at the tenant host's page, wherever the search runs


# --- writes ---


def add_document(*, title: str, filename: str, data: bytes, actor) -> Document:
    """An uploaded Markdown, text or PDF file as a searchable document of the current schema.

    ``ValidationError`` (on ``file``) for an empty, binary, unreadable or too large file; nothing is written.
    """
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": f"The file is {len(data):,} bytes; the limit is {MAX_BYTES:,}."})
    try:
        reading = read_document(data, filename)
    except Unreadable as error:
        raise ValidationError({"file": str(error)}) from error
    title = (title or "").strip() or _title_from(filename)
    with transaction.atomic():
        document = Document.objects.create(
            title=title[:200],
            filename=filename[:255],
            content_type=reading.content_type,
            size=len(data),
            uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
        _write_chunks(document, reading.passages)
        record_event(
            "knowledge.document_added", actor=actor, tenant=_audit_tenant(), target=str(document.code)
        )
    return document


def delete_document(document: Document, *, actor) -> None:
    with transaction.atomic():
        code = str(document.code)
        document.delete()
        record_event("knowledge.document_deleted", actor=actor, tenant=_audit_tenant(), target=code)


def index_catalogue(source: str, title: str, passages: list[Passage]) -> Document:
    """The catalogue ``source`` as one document of the current schema, its chunks replaced in place."""
    with transaction.atomic():
        document, _ = Document.objects.select_for_update().get_or_create(
            source=source, defaults={"title": title, "content_type": "text/markdown"}
        )
        if document.title != title:
            Document.objects.filter(pk=document.pk).update(title=title)
            document.title = title
        document.chunks.all().delete()
        _write_chunks(document, passages)
    return document


def _write_chunks(document: Document, passages) -> None:
    Chunk.objects.bulk_create(
        Chunk(document=document, ordinal=n, heading=p.heading[:300], text=p.text)
        for n, p in enumerate(passages, 1)
    )
    Chunk.objects.filter(document=document).update(
        search_vector=SearchVector(Value(document.title), weight="C", config=CONFIG)
        + SearchVector("heading", weight="A", config=CONFIG)
        + SearchVector("text", weight="B", config=CONFIG)
    )


def _title_from(filename: str) -> str:
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.replace("_", " ").replace("-", " ").strip() or "Untitled"


def _audit_tenant():
    from tenants.access import current_tenant

    return None if connection.schema_name == get_public_schema_name() else current_tenant()


# --- reads ---


@dataclass(frozen=True)
class Hit:
    """One passage that answers a search, with what a citation needs."""

    document: str  # the document's code
    title: str
    section: str
    snippet: str  # the matching words in **bold**
    text: str  # the whole passage
    score: float
    link: str
    scope: str  # "tenant" (this tenant's own) or "global" (the operators')
    source: str

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def citation(self) -> str:
        return f"{self.title} › {self.section}" if self.section else self.title


def search(query: str, *, limit: int = 5) -> list[Hit]:
    """The best passages for ``query`` in this tenant's documents and the global ones, best first.

    All the words must match (``websearch_to_tsquery``: quotes, ``or`` and ``-word`` work); when nothing
    does, any of the words may, ranked by how well they match.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    query = (query or "").strip()[:500]
    if not query:
        return []
    exact = SearchQuery(query, search_type="websearch", config=CONFIG)
    hits = _everywhere(exact, limit)
    if not hits:
        loose = _any_word(query)
        hits = _everywhere(SearchQuery(loose, search_type="raw", config=CONFIG), limit) if loose else []
    return hits


def _everywhere(query: SearchQuery, limit: int) -> list[Hit]:
    public = get_public_schema_name()
    hits = [] if connection.schema_name == public else _search_here(query, limit, scope="tenant")
    with schema_context(public):
        hits += _search_here(query, limit, scope="global")
    return sorted(hits, key=lambda hit: (-hit.score, hit.title, hit.section))[:limit]


def _search_here(query: SearchQuery, limit: int, *, scope: str) -> list[Hit]:
    rows = (
        Chunk.objects.filter(search_vector=query)
        .annotate(
            score=SearchRank(F("search_vector"), query),
            snippet=SearchHeadline(
                "text",
                query,
                config=CONFIG,
                start_sel="**",
                stop_sel="**",
                max_words=40,
                min_words=15,
                max_fragments=2,
                fragment_delimiter=" … ",
            ),
        )
        .order_by("-score", "document_id", "ordinal")
        .values(
            "ordinal",
            "heading",
            "text",
            "score",
            "snippet",
            "document__code",
            "document__title",
            "document__source",
        )
    )[:limit]
    return [_hit(row, scope) for row in rows]


def _hit(row: dict, scope: str) -> Hit:
    code = str(row["document__code"])
    page = reverse("knowledge_document", kwargs={"code": code}, urlconf=TENANT_URLS)
    return Hit(
        document=code,
        title=row["document__title"],
        section=row["heading"],
        snippet=" ".join(row["snippet"].split()).replace("**-**", "-"),  # "WS-RES-002" in one piece
        text=row["text"],
        score=round(float(row["score"]), 4),
        link=f"{page}#chunk-{row['ordinal']}",
        scope=scope,
        source=row["document__source"],
    )


def _any_word(query: str) -> str:
    """The words of ``query`` as a tsquery that any of them satisfies ('' when all are stop words)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT plainto_tsquery(%s::regconfig, %s)::text", [CONFIG, query])
        text = cursor.fetchone()[0] or ""
    return text.replace(" & ", " | ")


def index_catalogues() -> dict[str, int]:
    """Rebuild the global catalogue documents in the public schema; chunks per document. Idempotent."""
    from chat.knowledge import catalogues

    with schema_context(get_public_schema_name()):
        built = {
            Document.Source.DIAGNOSTICS: (catalogues.DIAGNOSTICS_TITLE, catalogues.diagnostics_passages()),
            Document.Source.PIPELINES: (catalogues.PIPELINES_TITLE, catalogues.pipeline_passages()),
        }
        return {
            title: index_catalogue(source, title, passages).chunks.count()
            for source, (title, passages) in built.items()
        }
