"""``POST /api/v1/worksets/validate`` and ``POST /api/v1/worksets/estimate``.

The body is a canonical spec, or ``{"spec": {…}}``, or ``{"yaml": "…"}`` (the sample-oriented YAML, read
by ``jobs.spec.formats``). ``dry_run`` and ``strict`` come from the query string or, next to ``spec`` or
``yaml``, from the body. Validation answers 200 with the report whether the spec is valid or not: the
report is the answer. Only a body that is not a JSON object (or a flag that is not a boolean) is a 400.
Neither endpoint writes anything, so every member, viewers included, may call them.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import generator
from jobs.validation import ValidationReport, validate_workset
from portal.rest import error_body, json_object_body
from tenants.models import Role

FLAGS = ("dry_run", "strict")
TRUE, FALSE = {True, "1", "true", "yes", "on"}, {False, "0", "false", "no", "off", ""}  # True == 1


class ProblemSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="From the catalogue in jobs/validation.py, e.g. WS-CFG-004.")
    severity = serializers.ChoiceField(choices=["error", "warning"])
    field = serializers.CharField(help_text="e.g. samples[2].fastq_r1; empty for the whole workset.")
    message = serializers.CharField()
    fix = serializers.CharField()
    text = serializers.CharField(help_text="WS-CFG-004 samples[2].fastq_r1: not found in bucket (fix: …)")


class EstimateSerializer(serializers.Serializer):
    label = serializers.CharField()
    basis = serializers.CharField(help_text="“from catalogue constants” or “from 14 past runs”.")
    cost_usd = serializers.CharField(allow_null=True)
    duration_hours = serializers.CharField()
    vcpu_hours = serializers.CharField()
    storage_gb = serializers.CharField()
    inputs = serializers.DictField()


class ReportSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    dry_run = serializers.BooleanField()
    strict = serializers.BooleanField()
    errors = serializers.IntegerField()
    warnings = serializers.IntegerField()
    problems = ProblemSerializer(many=True)
    spec = serializers.DictField(
        allow_null=True, help_text="The canonical spec with defaults; null if invalid."
    )
    estimate = EstimateSerializer(allow_null=True)


PARAMETERS = [
    OpenApiParameter(name, OpenApiTypes.BOOL, description=text)
    for name, text in (
        ("dry_run", "Skip the bucket HEADs (paths are still confined to your bucket)."),
        ("strict", "Treat warnings as errors."),
    )
]


class SpecView(APIView):
    read_role = Role.VIEWER
    write_role = Role.VIEWER  # nothing is written

    def report(self, request) -> ValidationReport:
        body = json_object_body(request, what=": a workset spec", required=True)
        flags = {name: _flag(request, body, name) for name in FLAGS}
        return validate_workset(request.tenant, _document(request.tenant, body), **flags)


class ValidateView(SpecView):
    @extend_schema(
        summary="Validate a workset spec",
        request=OpenApiTypes.OBJECT,
        parameters=PARAMETERS,
        responses={200: ReportSerializer, 400: OpenApiResponse(description="The body is not a JSON object.")},
    )
    def post(self, request):
        return Response(self.report(request).as_dict())


class EstimateView(SpecView):
    @extend_schema(
        summary="Estimate a workset's cost, duration, vCPU-hours and storage",
        request=OpenApiTypes.OBJECT,
        responses={
            200: EstimateSerializer,
            400: OpenApiResponse(description="The spec is not valid enough to estimate (the problems)."),
        },
    )
    def post(self, request):
        report = self.report(request)
        if report.estimate is None:
            fields: dict[str, list[str]] = {}
            for problem in report.errors:
                fields.setdefault(problem.field or "spec", []).append(str(problem))
            message = "The spec needs a valid schema and a known pipeline before it can be estimated."
            return Response(error_body("invalid", message, fields=fields), status=400)
        return Response(report.estimate)


def _flag(request, body: dict, name: str) -> bool:
    value = body.pop(name) if name in body else request.query_params.get(name, False)
    if isinstance(value, str):
        value = value.strip().lower()
    if isinstance(value, bool | int | str) and value in TRUE:
        return True
    if isinstance(value, bool | int | str) and value in FALSE:
        return False
    raise exceptions.ValidationError({name: ["Must be true or false."]})


def _document(tenant, body: dict):
    if "yaml" in body:  # any of the three formats, as the worksets API reads it
        return generator.spec_from_text(tenant, body["yaml"])
    if "spec" in body and len(body) == 1:
        return body["spec"]
    return body
