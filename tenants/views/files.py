"""The file browser page, and the signed links that stand in for presigned URLs on the local backend.

The page is a shell: ``static/js/files.js`` lists, uploads and previews through ``/api/v1/files…``.
"""

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import ensure_csrf_cookie

from tenants.models import Role
from tenants.services.files import PART_SIZE, bucket_of, folder_key, storage_of
from tenants.storage import ObjectNotFound, StorageError
from tenants.storage.links import read_link


@ensure_csrf_cookie  # files.js sends the cookie's token with every write
def browser(request):
    try:
        prefix = folder_key(request.GET.get("prefix", ""))
    except ValidationError:  # a bad ?prefix= shows the top; the API explains bad keys
        prefix = ""
    context = {
        "prefix": prefix,
        "can_write": request.membership.allows(Role.MEMBER) and request.tenant.is_active,
        "part_size": PART_SIZE,
    }
    return render(request, "tenants/files.html", context)


def signed_link(request, token):
    """Serve the one object a link names, on its own tenant's host only. The signature is the permission
    (no session needed); anything wrong with it answers 404, whatever the method."""
    key = _linked_key(request, token)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    try:
        storage = storage_of(request.tenant)
        info = storage.head(key)
        chunks = storage.download(key)
    except StorageError as error:  # ObjectNotFound included
        raise Http404("No such file.") from error
    response = StreamingHttpResponse(chunks, content_type=info.content_type or "application/octet-stream")
    response["Content-Length"] = str(info.size)
    response["Content-Disposition"] = content_disposition_header(True, key.rsplit("/", 1)[-1])
    return response


def _linked_key(request, token) -> str:
    try:
        bucket_name, key, method = read_link(token)
        bucket = bucket_of(request.tenant)
    except (signing.BadSignature, StorageError, ObjectNotFound) as error:
        raise Http404("This link is not valid here or has expired.") from error
    if bucket_name != bucket.name or method != "GET" or key.endswith("/"):
        raise Http404("This link is not valid here.")
    return key
