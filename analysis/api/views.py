"""``/api/v1/profiles``: upload or import a profile, follow its parse, and ask it questions.

Every member reads; members and up upload, re-parse and delete. Insights answer 409 ``not_ready`` until
the parse is done; each is computed by ``analysis.insights`` from the stored tables, the same functions
the pages and the chat assistant call.
"""

from django.core.exceptions import ValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from analysis import insights
from analysis.api.serializers import (
    InsightQuerySerializer,
    ProfileDetailSerializer,
    ProfileSerializer,
    ProfileUploadSerializer,
)
from analysis.listing import NewestFirst, ProfileFilter
from analysis.models import Profile
from analysis.services import profiles as profile_services
from analysis.tables import NotReady, parsed
from jobs.models import Workset
from portal.rest import ScopedViewSet


class NotReadyError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_ready"


def answer(result) -> Response:
    if isinstance(result, list):
        return Response([item.as_dict() for item in result])
    return Response(result.as_dict() if hasattr(result, "as_dict") else result)


class ProfileViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Profile.objects.select_related("created_by")
    serializer_class = ProfileSerializer
    pagination_class = NewestFirst
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProfileFilter
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_serializer_class(self):
        return ProfileSerializer if self.action == "list" else ProfileDetailSerializer

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def handle_exception(self, exc):
        if isinstance(exc, NotReady):
            exc = NotReadyError(str(exc))
        return super().handle_exception(exc)

    def query(self) -> dict:
        serializer = InsightQuerySerializer(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        summary="Upload a profile (multipart), or import a file from a workset's results (JSON)",
        request={"multipart/form-data": ProfileUploadSerializer, "application/json": ProfileUploadSerializer},
        responses={202: ProfileDetailSerializer},
    )
    def create(self, request):
        upload = ProfileUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        if data.get("file"):
            file = data["file"]
            extra = data.get("disassembly")
            profile = profile_services.create_profile(
                name=data.get("name", ""),
                filename=file.name,
                data=file,
                size=file.size,
                actor=request.user,
                disassembly=(extra.name, extra, extra.size) if extra else None,
            )
        else:
            workset = Workset.objects.visible_to(request.membership).filter(code=data["workset"]).first()
            if workset is None:
                raise exceptions.ValidationError({"workset": "No such workset in this tenant."})
            profile = profile_services.import_result_file(
                workset, data["key"], actor=request.user, name=data.get("name", "")
            )
        return Response(ProfileDetailSerializer(profile).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Delete a profile, its tables and (unless it is a workset's result) its file")
    def destroy(self, request, code=None):
        profile_services.delete_profile(self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Parse the file again (idempotent)", request=None, responses={202: ProfileDetailSerializer}
    )
    @action(detail=True, methods=["post"])
    def reparse(self, request, code=None):
        profile = profile_services.reparse_profile(self.get_object(), actor=request.user)
        return Response(ProfileDetailSerializer(profile).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Top-N hotspots by function, source line or basic block",
        parameters=[
            OpenApiParameter("by", enum=["function", "line", "block"]),
            OpenApiParameter("event"),
            OpenApiParameter("limit", int),
        ],
    )
    @action(detail=True, methods=["get"], url_path="hotspots")
    def hotspots(self, request, code=None):
        query = self.query()
        with _bad_query("event"):
            result = insights.hotspots(
                parsed(self.get_object()),
                by=query["by"],
                event=query.get("event") or None,
                limit=query["limit"],
            )
        return answer(result)

    @extend_schema(
        summary="Vector register mix (zmm/ymm/xmm/scalar) per function and upgrade candidates",
        parameters=[OpenApiParameter("limit", int)],
    )
    @action(detail=True, methods=["get"])
    def vectorization(self, request, code=None):
        return answer(insights.vectorization(parsed(self.get_object()), limit=self.query()["limit"]))

    @extend_schema(
        summary="Memory bottlenecks: miss rates, MPKI, mispredictions, TLB, CPI",
        parameters=[OpenApiParameter("limit", int)],
    )
    @action(detail=True, methods=["get"])
    def memory(self, request, code=None):
        return answer(insights.memory(parsed(self.get_object()), limit=self.query()["limit"]))

    @extend_schema(
        summary="Compiler-flag and code recommendations, each with its evidence",
        parameters=[OpenApiParameter("target", description="-march target CPU, e.g. icelake-server")],
    )
    @action(detail=True, methods=["get"])
    def recommendations(self, request, code=None):
        query = self.query()
        with _bad_query("target"):
            return answer(
                insights.recommendations(parsed(self.get_object()), target=query.get("target") or None)
            )

    @extend_schema(
        summary="One function in depth: mix, memory, lines, callers and callees",
        parameters=[OpenApiParameter("name", required=True), OpenApiParameter("object")],
    )
    @action(detail=True, methods=["get"])
    def function(self, request, code=None):
        query = self.query()
        if not query.get("name"):
            raise exceptions.ValidationError({"name": "Which function?"})
        try:
            result = insights.function_detail(
                parsed(self.get_object()), query["name"], object=query.get("object") or None
            )
        except LookupError as error:
            raise exceptions.NotFound(f"No function {query['name']!r} in this profile.") from error
        return answer(result)

    @extend_schema(
        summary="Icicle/flame tree from the call graph",
        parameters=[
            OpenApiParameter("event"),
            OpenApiParameter("max_depth", int),
            OpenApiParameter("min_share", float),
        ],
    )
    @action(detail=True, methods=["get"])
    def flame(self, request, code=None):
        query = self.query()
        with _bad_query("event"):
            result = insights.flame(
                parsed(self.get_object()),
                event=query.get("event") or None,
                max_depth=query["max_depth"],
                min_share=query["min_share"],
            )
        return answer(result)

    @extend_schema(
        summary="Run-to-run diff against another profile (per function, normalised by totals)",
        parameters=[
            OpenApiParameter("against", required=True),
            OpenApiParameter("event"),
            OpenApiParameter("limit", int),
        ],
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, code=None):
        query = self.query()
        after = self.get_object()
        before = self.get_queryset().filter(code=query.get("against", "")).first()
        if before is None:
            raise exceptions.ValidationError({"against": "No such profile in this tenant."})
        with _bad_query("event"):
            result = insights.diff(
                parsed(before), parsed(after), event=query.get("event") or None, limit=query["limit"]
            )
        return answer(result)


class _bad_query:
    """A ValueError of an insight (an event the profile lacks, an unknown target) is a 400 on ``field``."""

    def __init__(self, field: str):
        self.field = field

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is not None and issubclass(kind, ValueError) and not issubclass(kind, ValidationError):
            raise exceptions.ValidationError({self.field: str(error)}) from error
        return False


router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.include_format_suffixes = False
router.register("profiles", ProfileViewSet, basename="profile")
