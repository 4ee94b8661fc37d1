"""``POST /api/v1/worksets/generate-yaml``, ``POST …/parse`` and ``GET …/discover``: the YAML generator's API.

Nothing is written, so every member, viewers included, may call them. generate-yaml always answers 200 with
every format and the problems the preview shows; parse answers 400 with the line and field of what it cannot
read; discover lists FASTQ pairs under a prefix of the caller's own bucket only.
"""

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import generator
from jobs.spec.formats import FORMATS, FormatError
from portal.parsers import JSONParser
from portal.rest import error_body, json_object_body
from tenants.api.files import StorageFailed
from tenants.models import Role
from tenants.storage import StorageError, StorageUnavailable

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FIELDS_FOR_DAYLILY = ("name", "pipeline", "reference_genome", "priority", "max_retries", "coverage")


class PreviewProblemSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_blank=True, help_text="e.g. samples[2].fastq_r1; empty: the document."
    )
    message = serializers.CharField()


class GeneratedSerializer(serializers.Serializer):
    yaml = serializers.CharField(help_text="The sample-oriented YAML.")
    daylily_work_yaml = serializers.CharField(
        allow_null=True, help_text="Null while the pipeline is unknown."
    )
    stage_samples_tsv = serializers.CharField()
    spec = serializers.DictField(help_text="The canonical spec, defaults filled in.")
    problems = PreviewProblemSerializer(many=True)


class ParsedSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS)
    spec = serializers.DictField()
    problems = PreviewProblemSerializer(many=True)


class PairSerializer(serializers.Serializer):
    sample_id = serializers.CharField()
    fastq_r1 = serializers.CharField()
    fastq_r2 = serializers.CharField()


class DiscoveredSerializer(serializers.Serializer):
    prefix = serializers.CharField(allow_blank=True)
    samples = PairSerializer(many=True)
    unpaired = serializers.ListField(child=serializers.CharField())
    truncated = serializers.BooleanField(help_text="More files than were searched; narrow the prefix.")


class GeneratorView(APIView):
    read_role = Role.VIEWER
    write_role = Role.VIEWER  # nothing is written

    def handle_exception(self, exc):
        if isinstance(exc, StorageError) and not isinstance(exc, StorageUnavailable):
            exc = StorageFailed(str(exc) or None)
        if isinstance(exc, FormatError):
            body = error_body("format_error", str(exc), fields={exc.field or "text": [exc.message]})
            body["error"]["line"] = exc.line
            return Response(body, status=400)
        return super().handle_exception(exc)


class GenerateYamlView(GeneratorView):
    @extend_schema(
        summary="Every format of a workset: sample-oriented YAML, daylily_work.yaml, stage_samples.tsv",
        description="The body is the form's fields (a canonical spec without spec_version), or {spec: {…}}.",
        request=OpenApiTypes.OBJECT,
        responses={
            200: GeneratedSerializer,
            400: OpenApiResponse(description="The body is not a JSON object."),
        },
    )
    def post(self, request):
        return Response(generator.generate(request.tenant, json_object_body(request)))


class ParseView(GeneratorView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        summary="Read a sample-oriented YAML, daylily_work.yaml or stage_samples.tsv into the canonical spec",
        description=(
            "JSON {text, sample_sheet?, format?, name?, pipeline?, reference_genome?, …} or a multipart "
            "upload (`file`, optional `sample_sheet`). The format is detected unless given. "
            "daylily_work.yaml and the sample sheet do not carry name, reference, priority…: give them as "
            "fields. A document that cannot be read answers 400 with `error.line` and the field."
        ),
        request=OpenApiTypes.OBJECT,
        responses={200: ParsedSerializer, 400: OpenApiResponse(description="Not readable: line and field.")},
    )
    def post(self, request):
        data = request.data if isinstance(request.data, QueryDict) else json_object_body(request)
        text, sheet = _text(data, "file", "text"), _text(data, "sample_sheet", "sample_sheet")
        if text is None:
            raise exceptions.ValidationError(
                {"text": ["Give the document as `text` or upload it as `file`."]}
            )
        fields = {name: _field(data, name) for name in FIELDS_FOR_DAYLILY if _field(data, name) is not None}
        parsed = generator.parse(
            request.tenant, text, sample_sheet=sheet, format=_field(data, "format"), fields=fields
        )
        return Response({"format": parsed.format, "spec": parsed.spec, "problems": parsed.problems})


def _text(data, upload: str, name: str):
    """The text of an uploaded file or of a field; None when neither is there."""
    files = getattr(data, "getlist", None) and data.get(upload)
    if files is not None and hasattr(files, "read"):
        if files.size > MAX_UPLOAD_BYTES:
            raise exceptions.ValidationError(
                {upload: [f"Files up to {MAX_UPLOAD_BYTES // 1024 // 1024} MB."]}
            )
        return files.read()
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise exceptions.ValidationError({name: ["Must be text."]})
    return value


def _field(data, name: str):
    value = data.get(name)
    if isinstance(data, QueryDict) and name in ("max_retries", "coverage") and value not in (None, ""):
        try:
            return float(value) if name == "coverage" else int(value)
        except ValueError:
            return value
    return value if value != "" else None


class DiscoverView(GeneratorView):
    @extend_schema(
        summary="FASTQ pairs under a prefix of your bucket (sub-folders included), as samples",
        parameters=[
            OpenApiParameter("prefix", str, description="A folder of your bucket, or s3://<your bucket>/…")
        ],
        responses={200: DiscoveredSerializer},
    )
    def get(self, request):
        try:
            prefix, pairing, truncated = generator.discover(
                request.tenant, request.query_params.get("prefix", "")
            )
        except generator.DiscoverError as error:
            raise exceptions.ValidationError({"prefix": [str(error)]}) from error
        body = {
            "prefix": prefix,
            "samples": pairing.samples(),
            "unpaired": pairing.unpaired,
            "truncated": truncated,
        }
        return Response(body)
