"""The /knowledge/ pages: list, search, upload (admins and owners), one document, delete; every role, bad
files, and mallory (member of beta) who gets 404 for alpha's documents."""

import pytest
from django.urls import reverse
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from chat.knowledge.models import Chunk, Document
from chat.knowledge.services import MAX_BYTES
from tenants.models import AuditEvent
from tests.knowledge.conftest import add_global_document, add_tenant_document, upload
from tests.knowledge.pdf import make_pdf
from tests.test_isolation import tenant_routes

pytestmark = pytest.mark.django_db


def stored(tenant):
    with tenant_context(tenant):
        return {d.title: list(d.chunks.values_list("heading", "text")) for d in Document.objects.all()}


def test_the_isolation_walker_covers_the_knowledge_pages():
    code = "00000000-0000-4000-8000-000000000000"
    assert {"/knowledge/", "/knowledge/x/", "/knowledge/x/delete/"} <= {
        route.replace(route.split("/")[2], "x") if route.count("/") > 2 else route
        for route in tenant_routes()
        if route.startswith("/knowledge/")
    } | {"/knowledge/"}
    assert reverse("knowledge_document", kwargs={"code": code}) == f"/knowledge/{code}/"


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_every_role_reads_the_list_and_only_admins_see_the_upload_form(client_for, world, persona, runbook):
    response = client_for(getattr(world, persona)).get("/knowledge/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Bucket restore runbook" in page and 'href="/knowledge/"' in page  # listed, and in the navigation
    assert ('data-testid="upload-form"' in page) == (persona == "alice")


def test_an_owner_uploads_markdown_and_it_is_stored_in_sections(client_for, world):
    body = b"# Rotate keys\n\nRotate the S3 access keys every 90 days.\n\n## Steps\n\nCreate, deploy, revoke."
    response = client_for(world.alice).post(
        "/knowledge/", {"title": "Key rotation", "file": upload("keys.md", body)}
    )
    assert response.status_code == 302
    assert stored(world.tenant)["Key rotation"] == [
        ("Rotate keys", "Rotate the S3 access keys every 90 days."),
        ("Steps", "Create, deploy, revoke."),
    ]
    with tenant_context(world.tenant):
        document = Document.objects.get(title="Key rotation")
        assert response["Location"] == f"/knowledge/{document.code}/"
        assert (document.filename, document.content_type, document.size) == (
            "keys.md",
            "text/markdown",
            len(body),
        )
        assert document.uploaded_by == world.alice
        assert Chunk.objects.filter(document=document, search_vector__isnull=True).count() == 0
    assert AuditEvent.objects.filter(action="knowledge.document_added", target=str(document.code)).exists()
    page = client_for(world.carol).get(response["Location"]).content.decode()
    assert "Rotate the S3 access keys every 90 days." in page and 'id="chunk-2"' in page


def test_plain_text_and_pdf_uploads_are_searchable_from_the_page(client_for, world):
    alice = client_for(world.alice)
    text = b"Pager duty.\n\nWhen the gateway returns 502, restart the quokka proxy first."
    assert alice.post("/knowledge/", {"file": upload("on_call-notes.txt", text)}).status_code == 302
    pdf = make_pdf([["Cluster maintenance"], ["Drain the wombat nodes before patching."]])
    assert (
        alice.post("/knowledge/", {"title": "Maintenance", "file": upload("m.pdf", pdf)}).status_code == 302
    )
    documents = stored(world.tenant)
    assert documents["on call notes"] == [("", text.decode())]
    assert documents["Maintenance"] == [
        ("Page 1", "Cluster maintenance"),
        ("Page 2", "Drain the wombat nodes before patching."),
    ]
    page = client_for(world.bob).get("/knowledge/", {"q": "wombat nodes"}).content.decode()
    assert "Maintenance › Page 2" in page and "<b>" not in page
    page = client_for(world.carol).get("/knowledge/", {"q": "quokka"}).content.decode()
    assert "on call notes" in page and "restart the **quokka** proxy" in page


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("empty.md", b"", "The submitted file is empty."),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00IHDR", "This looks like a binary file, not text."),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "The PDF cannot be read"),
        ("deck.pptx", b"PK\x03\x04", "Upload Markdown (.md), plain text (.txt) or PDF (.pdf)."),
        ("huge.txt", b"a" * (MAX_BYTES + 1), f"the limit is {MAX_BYTES:,}"),
    ],
)
def test_a_bad_file_is_a_form_error_and_nothing_is_written(client_for, world, name, data, problem):
    response = client_for(world.alice).post("/knowledge/", {"title": "Bad", "file": upload(name, data)})
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert 'data-testid="problem-file"' in response.content.decode()
    with tenant_context(world.tenant):
        assert not Document.objects.exists() and not Chunk.objects.exists()


@pytest.mark.parametrize("persona", ["bob", "carol"])
def test_members_and_viewers_cannot_upload_or_delete(client_for, world, persona, runbook):
    client = client_for(getattr(world, persona))
    response = client.post("/knowledge/", {"file": upload("x.md", b"# X\n\ntext")})
    assert response.status_code == 403
    assert client.post(f"/knowledge/{runbook.code}/delete/").status_code == 403
    assert list(stored(world.tenant)) == ["Bucket restore runbook"]


def test_an_admin_deletes_a_document_with_its_chunks(client_for, world, runbook):
    response = client_for(world.alice).post(f"/knowledge/{runbook.code}/delete/")
    assert response.status_code == 302 and response["Location"] == "/knowledge/"
    with tenant_context(world.tenant):
        assert not Document.objects.exists() and not Chunk.objects.exists()
    assert client_for(world.alice).get(f"/knowledge/{runbook.code}/").status_code == 404


def test_global_documents_are_read_by_both_tenants_but_deleted_only_by_operators(client_for, world):
    shared = add_global_document(title="Platform FAQ", text="# Quotas\n\nAsk your operator to raise a quota.")
    for user, tenant in ((world.carol, world.tenant), (world.mallory, world.other)):
        client = client_for(user, tenant)
        assert "Platform FAQ" in client.get("/knowledge/").content.decode()
        assert "Ask your operator" in client.get(f"/knowledge/{shared.code}/").content.decode()
    assert client_for(world.alice).post(f"/knowledge/{shared.code}/delete/").status_code == 404
    with schema_context(get_public_schema_name()):
        assert Document.objects.filter(code=shared.code).exists()


def test_mallory_cannot_see_or_find_alphas_runbook(client_for, world, runbook):
    mallory = client_for(world.mallory, world.other)
    assert mallory.get(f"/knowledge/{runbook.code}/").status_code == 404
    assert mallory.post(f"/knowledge/{runbook.code}/delete/").status_code == 404
    page = mallory.get("/knowledge/", {"q": "zebra-tool versions"}).content.decode()
    assert "Bucket restore runbook" not in page and 'data-testid="no-hits"' in page
    on_alpha = client_for(world.mallory, world.tenant)
    assert on_alpha.get(f"/knowledge/{runbook.code}/").status_code == 404
    assert on_alpha.get("/knowledge/", {"q": "zebra"}).status_code == 404
    assert list(stored(world.tenant)) == ["Bucket restore runbook"]


def test_a_document_of_one_tenant_is_404_by_code_in_the_other(client_for, world):
    theirs = add_tenant_document(world.other, title="Beta secrets", text="beta only")
    assert client_for(world.alice).get(f"/knowledge/{theirs.code}/").status_code == 404
