"""``/api/v1/files…``: browse, read and write the tenant's bucket.

Viewers may read; members and up may write (``portal.permissions.IsTenantMember`` checks the role from
``read_role``/``write_role``). Every key is cleaned by the services (400 for traversal and other tricks);
a missing object answers 404, a busy or unreachable storage backend 503 (``portal.rest``), any other
failure of the backend 502.
"""

import csv
import io
import mimetypes

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.urls import path
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.models import Role
from tenants.services import files as service
from tenants.storage import (
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    UploadGone,
    UploadRejected,
)

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
PREVIEW_MAX_BYTES = 256 * 1024
PREVIEW_MAX_ROWS = 500
LINK_EXPIRES = 3600
TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_CURSOR_SALT = "runyard.files.cursor"


class StorageFailed(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "storage_error"
    default_detail = "The storage backend did not answer; try again."


class AnyAccept(BaseContentNegotiation):
    """Downloads answer whatever the client accepts (browsers ask for text/html); errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FilesView(APIView):
    read_role = Role.VIEWER
    write_role = Role.MEMBER

    def handle_exception(self, exc):
        if isinstance(exc, UploadGone):
            exc = exceptions.NotFound(str(exc))
        elif isinstance(exc, UploadRejected):
            exc = ValidationError(str(exc), code="upload_rejected")  # a coded 400: the parts are wrong
        elif isinstance(exc, ObjectNotFound):
            exc = exceptions.NotFound("No such file.")
        elif isinstance(exc, StorageError) and not isinstance(exc, StorageUnavailable):
            exc = StorageFailed(str(exc) or None)
        return super().handle_exception(exc)


# --- serializers (shapes for the schema and the answers) ---


class FolderEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The folder's key, ending in “/”.")


class FileEntrySerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    modified = serializers.DateTimeField()
    content_type = serializers.CharField()


class ListingSerializer(serializers.Serializer):
    prefix = serializers.CharField(allow_blank=True)
    folders = FolderEntrySerializer(many=True)
    files = FileEntrySerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Pass as ``cursor`` for the next page.")


class ObjectSerializer(FileEntrySerializer):
    etag = serializers.CharField()
    version_id = serializers.CharField()


class LinkSerializer(serializers.Serializer):
    url = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the link stays valid.")


class PreviewSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.ChoiceField(choices=["text", "table"])
    text = serializers.CharField(allow_blank=True)
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()), required=False)
    truncated = serializers.BooleanField(help_text="Only the first rows are in ``rows``.")


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    prefix = serializers.CharField(required=False, allow_blank=True, default="")


class FolderCreateSerializer(serializers.Serializer):
    prefix = serializers.CharField(required=False, allow_blank=True, default="")
    name = serializers.CharField()


class FolderSerializer(serializers.Serializer):
    prefix = serializers.CharField()


class StartUploadSerializer(serializers.Serializer):
    key = serializers.CharField()
    size = serializers.IntegerField(min_value=1)
    content_type = serializers.CharField(required=False, allow_blank=True, default="")


class StartedUploadSerializer(serializers.Serializer):
    upload = serializers.CharField(help_text="The upload's token: use it in the part and complete URLs.")
    key = serializers.CharField()
    part_size = serializers.IntegerField(help_text="Send parts of exactly this size, the last one smaller.")


class PartSerializer(serializers.Serializer):
    number = serializers.IntegerField(min_value=1)
    etag = serializers.CharField()


class CompleteSerializer(serializers.Serializer):
    parts = PartSerializer(many=True)


def _entry(info: ObjectInfo) -> dict:
    name = info.key.rstrip("/").rsplit("/", 1)[-1]
    content_type = info.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return {
        "key": info.key,
        "name": name,
        "size": info.size,
        "modified": info.modified,
        "content_type": content_type,
    }


def _object(info: ObjectInfo) -> dict:
    return {**_entry(info), "etag": info.etag, "version_id": info.version_id}


def _folder(prefix: str) -> dict:
    return {"name": prefix.rstrip("/").rsplit("/", 1)[-1], "prefix": prefix}


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


KEY = OpenApiParameter("key", str, required=True, description="The file's key in your bucket.")
NOT_FOUND = OpenApiResponse(description="No such file.")


# --- reading ---


class FileListView(FilesView):
    @extend_schema(
        summary="List a folder: sub-folders and files, a page at a time",
        parameters=[
            OpenApiParameter("prefix", str, description="The folder, ending in “/”; empty is the top."),
            OpenApiParameter("cursor", str, description="``next`` of the previous page."),
            OpenApiParameter("limit", int, description=f"Entries per page, 1–{MAX_LIMIT}."),
        ],
        responses=ListingSerializer,
    )
    def get(self, request):
        prefix = service.folder_key(request.query_params.get("prefix", ""))
        cursor = self._cursor(request, prefix)
        listing = service.storage_of(request.tenant).list(prefix, token=cursor, limit=self._limit(request))
        data = {
            "prefix": prefix,
            "folders": [_folder(folder) for folder in listing.folders if folder != prefix],
            "files": [_entry(info) for info in listing.objects if info.key != prefix],
            "next": self._sign(request, prefix, listing.next_token) if listing.next_token else None,
        }
        return Response(ListingSerializer(data).data)

    @staticmethod
    def _limit(request) -> int:
        try:
            limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError({"limit": f"Give a number from 1 to {MAX_LIMIT}."})
        return limit

    @staticmethod
    def _salt(request) -> str:
        return f"{_CURSOR_SALT}:{request.tenant.schema_name}"

    def _sign(self, request, prefix: str, token: str) -> str:
        return signing.dumps({"p": prefix, "t": token}, salt=self._salt(request), compress=True)

    def _cursor(self, request, prefix: str) -> str | None:
        """Cursors are signed: the backend only ever sees tokens it issued for this folder."""
        raw = request.query_params.get("cursor")
        if not raw:
            return None
        try:
            payload = signing.loads(raw, salt=self._salt(request))
        except signing.BadSignature:
            payload = {}
        if payload.get("p") != prefix:
            raise ValidationError({"cursor": "This cursor is not one of this folder's pages."})
        return payload["t"]


class FileObjectView(FilesView):
    @extend_schema(
        summary="A file's metadata", parameters=[KEY], responses={200: ObjectSerializer, 404: NOT_FOUND}
    )
    def get(self, request):
        key = service.file_key(request.query_params.get("key"))
        info = service.storage_of(request.tenant).head(key)
        return Response(ObjectSerializer(_object(info)).data)

    @extend_schema(
        summary="Delete a file, or an empty folder (key ending in “/”); an operator can restore it",
        parameters=[KEY],
        responses={204: None, 404: NOT_FOUND},
    )
    def delete(self, request):
        service.delete_file(request.tenant, request.query_params.get("key"), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FileDownloadView(FilesView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        summary="Download a file (streamed)",
        parameters=[KEY],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    def get(self, request):
        key = service.file_key(request.query_params.get("key"))
        storage = service.storage_of(request.tenant)
        entry = _entry(storage.head(key))
        response = StreamingHttpResponse(storage.download(key), content_type=entry["content_type"])
        response["Content-Length"] = str(entry["size"])
        response["Content-Disposition"] = content_disposition_header(True, entry["name"])
        return response


class FileLinkView(FilesView):
    @extend_schema(
        summary="A presigned link that downloads the file without signing in, for an hour",
        parameters=[KEY],
        responses={200: LinkSerializer, 404: NOT_FOUND},
    )
    def get(self, request):
        key = service.file_key(request.query_params.get("key"))
        storage = service.storage_of(request.tenant)
        storage.head(key)
        url = storage.presigned_url(key, expires=LINK_EXPIRES)
        return Response(
            LinkSerializer({"url": request.build_absolute_uri(url), "expires_in": LINK_EXPIRES}).data
        )


class FilePreviewView(FilesView):
    @extend_schema(
        summary="Preview a small text file (CSV/TSV also as rows)",
        description=f"Text files up to {PREVIEW_MAX_BYTES // 1024} KB; larger or binary files answer 400.",
        parameters=[KEY],
        responses={200: PreviewSerializer, 404: NOT_FOUND},
    )
    def get(self, request):
        key = service.file_key(request.query_params.get("key"))
        storage = service.storage_of(request.tenant)
        info = storage.head(key)
        if info.size > PREVIEW_MAX_BYTES:
            limit = PREVIEW_MAX_BYTES // 1024
            raise ValidationError(
                {"key": f"This file is too large to preview (over {limit} KB); download it."}
            )
        text = _text(b"".join(storage.download(key)))
        return Response(PreviewSerializer(_preview(key, text)).data)


def _text(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "\x00"
    if "\x00" in text:
        raise ValidationError({"key": "This looks like a binary file; only text files can be previewed."})
    return text


def _preview(key: str, text: str) -> dict:
    suffix = "." + key.rsplit(".", 1)[-1].lower() if "." in key else ""
    if suffix not in TABLE_DELIMITERS:
        return {"key": key, "kind": "text", "text": text, "truncated": False}
    rows = []
    for row in csv.reader(io.StringIO(text), delimiter=TABLE_DELIMITERS[suffix]):
        if len(rows) == PREVIEW_MAX_ROWS:
            return {"key": key, "kind": "table", "text": text, "rows": rows, "truncated": True}
        rows.append(row)
    return {"key": key, "kind": "table", "text": text, "rows": rows, "truncated": False}


# --- writing ---


class FileUploadView(FilesView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a small file into a folder (use the multipart API above 8 MiB)",
        request=UploadSerializer,
        responses={201: ObjectSerializer},
    )
    def post(self, request):
        data = _valid(UploadSerializer, request.data)
        prefix = service.folder_key(data["prefix"])
        upload = data["file"]
        info = service.upload_file(
            request.tenant,
            prefix + upload.name,
            upload,
            upload.size,
            actor=request.user,
            content_type=upload.content_type or "",
        )
        return Response(ObjectSerializer(_object(info)).data, status=status.HTTP_201_CREATED)


class FolderView(FilesView):
    @extend_schema(
        summary="Create a folder", request=FolderCreateSerializer, responses={201: FolderSerializer}
    )
    def post(self, request):
        data = _valid(FolderCreateSerializer, request.data)
        parent = service.folder_key(data["prefix"])
        created = service.create_folder(request.tenant, parent + data["name"], actor=request.user)
        return Response({"prefix": created}, status=status.HTTP_201_CREATED)


class UploadStartView(FilesView):
    @extend_schema(
        summary="Start a multipart upload (large files)",
        description="Checks the storage quota for the declared size before anything is stored.",
        request=StartUploadSerializer,
        responses={201: StartedUploadSerializer},
    )
    def post(self, request):
        data = _valid(StartUploadSerializer, request.data)
        token = service.start_upload(request.tenant, actor=request.user, **data)
        body = {
            "upload": token,
            "key": service.read_upload(request.tenant, token).key,
            "part_size": service.PART_SIZE,
        }
        return Response(StartedUploadSerializer(body).data, status=status.HTTP_201_CREATED)


class UploadView(FilesView):
    @extend_schema(summary="Abort a multipart upload (its parts are discarded)", responses={204: None})
    def delete(self, request, upload):
        service.abort_upload(request.tenant, upload, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadPartView(FilesView):
    @extend_schema(
        summary="Upload one part (raw body, 8 MiB except the last)",
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={200: PartSerializer},
    )
    def put(self, request, upload, number):
        # Read the raw stream (not request.body): parts are larger than DATA_UPLOAD_MAX_MEMORY_SIZE.
        data = request.stream.read(service.PART_SIZE + 1) if request.stream else b""
        etag = service.upload_part(request.tenant, upload, number, data, actor=request.user)
        return Response(PartSerializer({"number": number, "etag": etag}).data)


class UploadCompleteView(FilesView):
    @extend_schema(
        summary="Join the uploaded parts into the file",
        description="Checks the quota again; a refused upload is aborted and leaves nothing behind.",
        request=CompleteSerializer,
        responses={201: ObjectSerializer},
    )
    def post(self, request, upload):
        data = _valid(CompleteSerializer, request.data)
        info = service.complete_upload(request.tenant, upload, data["parts"], actor=request.user)
        return Response(ObjectSerializer(_object(info)).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("files", FileListView.as_view(), name="api-files"),
    path("files/object", FileObjectView.as_view(), name="api-file"),
    path("files/download", FileDownloadView.as_view(), name="api-file-download"),
    path("files/link", FileLinkView.as_view(), name="api-file-link"),
    path("files/preview", FilePreviewView.as_view(), name="api-file-preview"),
    path("files/upload", FileUploadView.as_view(), name="api-file-upload"),
    path("files/folders", FolderView.as_view(), name="api-folders"),
    path("files/uploads", UploadStartView.as_view(), name="api-uploads"),
    path("files/uploads/<str:upload>", UploadView.as_view(), name="api-upload"),
    path("files/uploads/<str:upload>/parts/<int:number>", UploadPartView.as_view(), name="api-upload-part"),
    path("files/uploads/<str:upload>/complete", UploadCompleteView.as_view(), name="api-upload-complete"),
]
