"""``/api/v1/worksets``: submit, list, read and move worksets.

Every member reads; members and up submit, cancel, retry, archive and restore; owners approve a workset
held for approval (the service checks that itself). A move the state machine refuses answers 409.
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from jobs import generator, services
from jobs.api.serializers import (
    CancelSerializer,
    DiagnosisSerializer,
    WorksetCreateSerializer,
    WorksetDetailSerializer,
    WorksetSerializer,
)
from jobs.listing import NewestFirst, WorksetFilter
from jobs.models import IllegalTransition, Workset
from portal.rest import ScopedViewSet


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "illegal_transition"
    default_detail = "The workset is not in a state that allows this."


class WorksetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    lookup_value_regex = r"[a-z0-9_-]+-[0-9a-f]{8}"  # a code; worksets/validate etc. are never one
    queryset = Workset.objects.select_related("submitted_by")
    serializer_class = WorksetSerializer
    pagination_class = NewestFirst
    filter_backends = [DjangoFilterBackend]
    filterset_class = WorksetFilter

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            return queryset.defer("spec", "validation")  # a spec may list 10,000 samples
        return queryset.with_details()

    def filter_queryset(self, queryset):
        """Filters (and hiding archived worksets) are for the list; a code finds its workset."""
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self):
        return WorksetSerializer if self.action == "list" else WorksetDetailSerializer

    def handle_exception(self, exc):
        if isinstance(exc, IllegalTransition):
            exc = Conflict(str(exc))
        return super().handle_exception(exc)

    @extend_schema(
        summary="Submit a workset: validated, stored, and queued (or held while the budget says so)",
        request=WorksetCreateSerializer,
        responses={201: WorksetDetailSerializer, 400: OpenApiResponse(description="Invalid spec")},
    )
    def create(self, request):
        data = WorksetCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        document = data.validated_data.get("spec")
        if document is None:
            document = generator.spec_from_text(request.tenant, data.validated_data["yaml"])
        workset = services.create_workset(
            request.tenant,
            document,
            actor=request.user,
            submit=data.validated_data["submit"],
            strict=data.validated_data["strict"],
        )
        return self._answer(workset, status.HTTP_201_CREATED)

    @extend_schema(summary="Submit a workset stored with submit=false", request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request, code=None):
        workset = self.get_object()
        services.submit_workset(request.tenant, workset, actor=request.user)
        return self._answer(workset)

    @extend_schema(summary="Cancel", request=CancelSerializer, responses=WorksetDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, code=None):
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workset = self.get_object()
        services.cancel_workset(request.tenant, workset, actor=request.user, **data.validated_data)
        return self._answer(workset)

    @extend_schema(
        summary="Retry: a new workset cloned from this failed, dead-lettered or cancelled one",
        request=None,
        responses={201: WorksetDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, code=None):
        retry = services.retry_workset(request.tenant, self.get_object(), actor=request.user)
        return self._answer(retry, status.HTTP_201_CREATED)

    @extend_schema(summary="Archive (hidden from the list unless asked for)", request=None)
    @action(detail=True, methods=["post"])
    def archive(self, request, code=None):
        workset = self.get_object()
        services.archive_workset(request.tenant, workset, actor=request.user)
        return self._answer(workset)

    @extend_schema(summary="Restore from the archive to the state it had", request=None)
    @action(detail=True, methods=["post"])
    def restore(self, request, code=None):
        workset = self.get_object()
        services.restore_workset(request.tenant, workset, actor=request.user)
        return self._answer(workset)

    @extend_schema(summary="Approve a workset held for owner approval (owners only)", request=None)
    @action(detail=True, methods=["post"])
    def approve(self, request, code=None):
        workset = self.get_object()
        services.approve_workset(request.tenant, workset, actor=request.user)
        return self._answer(workset)

    @extend_schema(summary="Why its last run failed: the diagnostics report", responses=DiagnosisSerializer)
    @action(detail=True, methods=["get"])
    def diagnosis(self, request, code=None):
        from jobs.execution import diagnosis_report

        workset = self.get_object()
        return Response({"workset": workset.code, "diagnosis": diagnosis_report(workset)})

    def _answer(self, workset: Workset, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=workset.pk)
        return Response(WorksetDetailSerializer(fresh).data, status=code)


router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.include_format_suffixes = False
router.register("worksets", WorksetViewSet, basename="workset")
