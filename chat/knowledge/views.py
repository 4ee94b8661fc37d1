"""Knowledge-base pages: the list (this tenant's documents and the global ones) with search and upload,
one document with its passages, and delete.

Every member reads and searches; admins and owners upload and delete the tenant's own documents (the
form is not drawn for others and their POSTs are refused). Global documents are read-only here: operators
manage them in the admin.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_tenants.utils import get_public_schema_name, schema_context

from chat.knowledge import services
from chat.knowledge.forms import DocumentUploadForm
from chat.knowledge.models import Document
from tenants.models import Role


def _can_write(request) -> bool:
    return request.membership.allows(Role.ADMIN) and request.tenant.is_active


def _refuse_non_admins(request) -> None:
    if not _can_write(request):
        raise PermissionDenied("Only admins and owners add or delete knowledge-base documents.")


def get_document_for_user(request, code) -> tuple[Document, list, bool]:
    """The tenant's own document, else a global one: (document, its chunks, is it global?); 404 otherwise."""
    found = Document.objects.filter(code=code).first()
    if found is not None:
        return found, list(found.chunks.all()), False
    with schema_context(get_public_schema_name()):
        found = Document.objects.filter(code=code).first()
        if found is None:
            raise Http404
        return found, list(found.chunks.all()), True


def documents(request):
    form = DocumentUploadForm()
    if request.method == "POST":
        _refuse_non_admins(request)
        form = DocumentUploadForm(request.POST, request.FILES)
        created = _upload(request, form) if form.is_valid() else None
        if created is not None:
            messages.success(request, f"{created.title} added to the knowledge base.")
            return redirect("knowledge_document", code=created.code)
    return _list(request, form, status=400 if form.errors else 200)


def _upload(request, form: DocumentUploadForm) -> Document | None:
    file = form.cleaned_data["file"]
    try:
        return services.add_document(
            title=form.cleaned_data.get("title", ""),
            filename=file.name,
            data=form.cleaned_data["data"],
            actor=request.user,
        )
    except ValidationError as error:
        for field, problems in getattr(error, "message_dict", {"file": error.messages}).items():
            form.add_error(field if field in form.fields else None, problems)
        return None


def _list(request, form, *, status: int):
    query = request.GET.get("q", "").strip()
    own = list(Document.objects.select_related("uploaded_by"))
    with schema_context(get_public_schema_name()):
        shared = list(Document.objects.all())
    context = {
        "documents": own,
        "global_documents": shared,
        "form": form,
        "query": query,
        "hits": services.search(query, limit=10) if query else None,
        "can_write": _can_write(request),
    }
    return render(request, "knowledge/documents.html", context, status=status)


def document(request, code):
    item, chunks, is_global = get_document_for_user(request, code)
    context = {"document": item, "chunks": chunks, "is_global": is_global, "can_write": _can_write(request)}
    return render(request, "knowledge/document.html", context)


@require_POST
def document_delete(request, code):
    item = Document.objects.filter(code=code).first()  # the tenant's own only: a global one is 404 here
    if item is None:
        raise Http404
    _refuse_non_admins(request)
    services.delete_document(item, actor=request.user)
    messages.success(request, f"{item.title} deleted from the knowledge base.")
    return redirect("knowledge")
