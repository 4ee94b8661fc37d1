"""Operators publish global documents in the admin (public schema), through the same service as tenants;
both tenants then find them, and a bad file is a form error with nothing written."""

import pytest
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from chat.knowledge.models import Chunk, Document
from chat.knowledge.services import search
from tests.knowledge.conftest import add_global_document, add_tenant_document, upload
from tests.knowledge.pdf import make_pdf

pytestmark = pytest.mark.django_db
ADD = "/admin/knowledge/document/add/"


def public_documents():
    with schema_context(get_public_schema_name()):
        return {d.title: list(d.chunks.values_list("heading", "text")) for d in Document.objects.all()}


def test_an_operator_uploads_a_global_pdf_that_both_tenants_find(operator_client, world):
    assert operator_client.get(ADD).status_code == 200
    pdf = make_pdf([["Incident handling"], ["Page the platypus on-call engineer within 15 minutes."]])
    response = operator_client.post(ADD, {"title": "Incident policy", "file": upload("policy.pdf", pdf)})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert public_documents() == {
        "Incident policy": [
            ("Page 1", "Incident handling"),
            ("Page 2", "Page the platypus on-call engineer within 15 minutes."),
        ]
    }
    with schema_context(get_public_schema_name()):
        document = Document.objects.get()
        assert document.uploaded_by == world.operator and document.source == Document.Source.UPLOAD
        assert operator_client.get(f"/admin/knowledge/document/{document.pk}/change/").status_code == 200
    for tenant in (world.tenant, world.other):
        with tenant_context(tenant):
            hits = search("platypus on-call")
        assert [(hit.citation, hit.scope) for hit in hits] == [("Incident policy › Page 2", "global")]


def test_a_bad_file_in_the_admin_is_a_form_error_and_nothing_is_written(operator_client):
    response = operator_client.post(ADD, {"title": "Broken", "file": upload("broken.pdf", b"%PDF-1.4 junk")})
    assert response.status_code == 200 and "The PDF cannot be read" in response.content.decode()
    assert public_documents() == {}
    with schema_context(get_public_schema_name()):
        assert not Chunk.objects.exists()


def test_an_operator_deletes_a_global_document(operator_client, world):
    operator_client.post(ADD, {"title": "Old", "file": upload("old.md", b"# Old\n\nOutdated advice.")})
    with schema_context(get_public_schema_name()):
        document = Document.objects.get(title="Old")
    response = operator_client.post(f"/admin/knowledge/document/{document.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert public_documents() == {}
    with tenant_context(world.tenant):
        assert search("outdated advice") == []


def test_a_search_from_the_public_schema_sees_only_global_documents(world):
    add_tenant_document(world.tenant, title="Alpha only", text="# Otters\n\nFeed the otters at noon.")
    shared = add_global_document(title="Shared", text="# Otters\n\nOtters live in rivers.")
    with schema_context(get_public_schema_name()):
        hits = search("otters")
    assert [(hit.title, hit.scope, hit.link) for hit in hits] == [
        ("Shared", "global", f"/knowledge/{shared.code}/#chunk-1")
    ]
