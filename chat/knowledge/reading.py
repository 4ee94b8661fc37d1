"""Reading an uploaded document and cutting it into passages. Pure Python (pypdf, no Django).

Markdown is cut at its headings, plain text at its paragraphs, a PDF page by page; every section is then
packed into passages of about ``SIZE`` characters, paragraph by paragraph, each passage repeating the last
``OVERLAP`` characters of the one before it so a sentence cut at a boundary is still found whole.
"""

import io
import re
from dataclasses import dataclass
from pathlib import PurePath

SIZE = 1200
OVERLAP = 200
KINDS = {
    ".md": ("markdown", "text/markdown"),
    ".markdown": ("markdown", "text/markdown"),
    ".txt": ("text", "text/plain"),
    ".text": ("text", "text/plain"),
    ".pdf": ("pdf", "application/pdf"),
}
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


class Unreadable(ValueError):
    """The file cannot become text: its message says why, for the upload form."""


@dataclass(frozen=True)
class Passage:
    heading: str
    text: str


@dataclass(frozen=True)
class Reading:
    kind: str
    content_type: str
    passages: tuple[Passage, ...]


def read_document(data: bytes, filename: str) -> Reading:
    """The passages of a Markdown, text or PDF file; ``Unreadable`` for anything else or empty."""
    kind, content_type = kind_of(filename)
    if not data.strip():
        raise Unreadable("The file is empty.")
    sections = _pdf_sections(data) if kind == "pdf" else _text_sections(_decoded(data), kind)
    passages = tuple(p for heading, body in sections for p in passages_of(heading, body))
    if not passages:
        raise Unreadable("The file has no text to index.")
    return Reading(kind, content_type, passages)


def kind_of(filename: str) -> tuple[str, str]:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in KINDS:
        raise Unreadable("Upload Markdown (.md), plain text (.txt) or PDF (.pdf).")
    return KINDS[suffix]


def _decoded(data: bytes) -> str:
    if b"\x00" in data:
        raise Unreadable("This looks like a binary file, not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unreadable(f"The text is not UTF-8 (byte {error.start} cannot be read).") from error


def _text_sections(text: str, kind: str) -> list[tuple[str, str]]:
    """(heading, body) per Markdown section; plain text is one section without a heading."""
    if kind != "markdown":
        return [("", text)]
    sections, heading, lines, fenced = [], "", [], False
    for line in text.splitlines():
        fenced = fenced != line.lstrip().startswith("```")
        match = None if fenced else HEADING.match(line)
        if match:
            sections.append((heading, "\n".join(lines)))
            heading, lines = match[2].strip(), []
        else:
            lines.append(line)
    sections.append((heading, "\n".join(lines)))
    return sections


def _pdf_sections(data: bytes) -> list[tuple[str, str]]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.lstrip().startswith(b"%PDF-"):
        raise Unreadable("This is not a PDF file.")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Unreadable("The PDF is encrypted; upload an unprotected copy.")
        return [(f"Page {n}", page.extract_text() or "") for n, page in enumerate(reader.pages, 1)]
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise Unreadable(f"The PDF cannot be read ({type(error).__name__}).") from error


def passages_of(heading: str, body: str, size: int = SIZE, overlap: int = OVERLAP) -> list[Passage]:
    """The section packed paragraph by paragraph into passages of about ``size`` characters."""
    pieces = [p for para in re.split(r"\n\s*\n", body) for p in _pieces(_clean(para), size)]
    passages, current = [], ""
    for piece in pieces:
        if current and len(current) + len(piece) + 2 > size:
            passages.append(current)
            current = _tail(current, overlap)
        current = f"{current}\n\n{piece}" if current else piece
    if current and (not passages or current != _tail(passages[-1], overlap)):
        passages.append(current)
    return [Passage(heading[:300], text) for text in passages]


def _clean(paragraph: str) -> str:
    return "\n".join(line.rstrip() for line in paragraph.strip("\n").splitlines()).strip()


def _pieces(paragraph: str, size: int) -> list[str]:
    """A paragraph longer than ``size`` cut at sentence ends, else at spaces."""
    if not paragraph:
        return []
    pieces = []
    while len(paragraph) > size:
        window = paragraph[:size]
        cut = max(window.rfind(". "), window.rfind("\n"))
        cut = cut + 1 if cut > size // 2 else (window.rfind(" ") if window.rfind(" ") > size // 2 else size)
        pieces.append(paragraph[:cut].strip())
        paragraph = paragraph[cut:].strip()
    return [*pieces, paragraph] if paragraph else pieces


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` characters, starting at a word."""
    if len(text) <= overlap:
        return text
    tail = text[-overlap:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < overlap // 2 else tail
