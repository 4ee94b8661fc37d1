"""Reading and cutting documents (chat.knowledge.reading): no database."""

import pytest

from chat.knowledge.reading import OVERLAP, SIZE, Unreadable, passages_of, read_document
from tests.knowledge.pdf import make_pdf


def test_markdown_is_cut_at_its_headings_and_code_fences_are_not_headings():
    text = (
        "# Restore\n\nIntro.\n\n## From a snapshot\n\nStep one.\n\n```sh\n# not a heading\n```"
        "\n\n## Check\n\nDone."
    )
    reading = read_document(text.encode(), "runbook.md")
    assert reading.kind == "markdown" and reading.content_type == "text/markdown"
    assert [(p.heading, p.text) for p in reading.passages] == [
        ("Restore", "Intro."),
        ("From a snapshot", "Step one.\n\n```sh\n# not a heading\n```"),
        ("Check", "Done."),
    ]


def test_long_sections_become_passages_of_about_the_size_with_overlap():
    paragraphs = [f"Paragraph {n} " + "word " * 60 for n in range(40)]
    passages = passages_of("Big", "\n\n".join(paragraphs))
    assert len(passages) > 5
    assert all(len(p.text) <= SIZE + OVERLAP + 2 for p in passages)
    for before, after in zip(passages, passages[1:], strict=False):
        assert after.text[:40] in before.text  # each passage starts with the end of the one before
    joined = " ".join(p.text for p in passages)
    assert all(f"Paragraph {n} " in joined for n in range(40))


def test_a_paragraph_longer_than_a_passage_is_cut_at_sentences():
    sentences = " ".join(f"Sentence number {n} says something." for n in range(200))
    passages = passages_of("", sentences)
    assert all(p.text.rstrip().endswith(".") for p in passages[:-1])


def test_a_pdf_is_read_page_by_page():
    data = make_pdf([["Rotate the keys (see below)."], ["Then restart the worker."]])
    reading = read_document(data, "Ops.PDF")
    assert reading.kind == "pdf"
    assert [(p.heading, p.text) for p in reading.passages] == [
        ("Page 1", "Rotate the keys (see below)."),
        ("Page 2", "Then restart the worker."),
    ]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.md", "The file is empty."),
        (b"   \n\n", "blank.txt", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image.txt", "binary"),
        (b"caf\xe9", "latin1.txt", "not UTF-8"),
        (b"%PDF-1.4\n1 0 obj garbage", "broken.pdf", "The PDF cannot be read"),
        (b"hello", "broken.pdf", "not a PDF"),
        (b"hello", "slides.pptx", "Upload Markdown (.md), plain text (.txt) or PDF (.pdf)."),
        (make_pdf([[""]]), "scan.pdf", "no text to index"),
    ],
)
def test_unreadable_files_say_why(data, name, message):
    with pytest.raises(Unreadable, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        read_document(data, name)
