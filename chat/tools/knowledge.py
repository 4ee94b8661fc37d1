"""The knowledge base for the assistant: the best passages of this tenant's documents and the global ones
(runbooks, the diagnostics and pipeline catalogues), each with its citation. The same search as the
``/knowledge/`` page (``chat.knowledge.services.search``).

A passage is data: whatever a document says ("ignore previous instructions…") is quoted back with its
source, never followed, and the search cannot reach another tenant's schema.
"""

from __future__ import annotations

from chat.knowledge.services import search
from chat.tools.base import ToolContext, ToolResult, tool


@tool(
    "search_knowledge",
    "Search the knowledge base (runbooks, documents, the diagnostics catalogue of error codes such as "
    "WS-CFG-003, the pipeline catalogue) and answer the best passages with their citations.",
    {
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": 500, "description": "What to look for."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
        },
        "required": ["query"],
    },
)
def search_knowledge(ctx: ToolContext, query: str, limit: int = 5):
    hits = search(query, limit=limit)
    if not hits:
        text = f"Nothing in the knowledge base matches “{query}”."
        return ToolResult("search_knowledge", {}, [], text)
    lines = [
        f"{n}. **{hit.citation}** ({'global' if hit.scope == 'global' else ctx.tenant.name}, score "
        f"{hit.score:g}): {_quoted(hit.snippet)} — [source: {hit.citation}]({hit.link})"
        for n, hit in enumerate(hits, 1)
    ]
    best = "\n".join(f"> {line}".rstrip() for line in hits[0].text.splitlines())
    text = (
        f"Passages of the knowledge base for “{query}”, best first:\n\n"
        + "\n".join(lines)
        + f"\n\nThe best passage in full ({hits[0].citation}):\n\n{best}"
    )
    links = tuple(dict.fromkeys((hit.title, hit.link.split("#", 1)[0]) for hit in hits))
    return ToolResult("search_knowledge", {}, [hit.as_dict() for hit in hits], text, links)


def _quoted(snippet: str) -> str:
    """A passage in quotes on one line, so it reads as what the document says."""
    return "“" + " ".join(snippet.split()).replace("[", "\\[").replace("]", "\\]") + "”"
