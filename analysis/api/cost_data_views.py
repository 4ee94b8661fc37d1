"""``/api/v1/analytics/{ingests,rates,teams,jobs}``: get cost data in and look at it.

Every member reads; admins and owners ingest files, set and delete rates and set budgets (others get
403). Writes go through ``analysis.services.costs``, the functions the pages and the admin call.
"""

from datetime import date

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from analysis import cost_listing
from analysis.api.cost_data_serializers import (
    GpuJobSerializer,
    IngestDetailSerializer,
    IngestSerializer,
    IngestUploadSerializer,
    RateSerializer,
    RateValueSerializer,
    RateWriteSerializer,
    TeamBudgetSerializer,
    TeamSerializer,
)
from analysis.models import CostIngest, GpuJob, RateSnapshot, Team
from analysis.services import costs as cost_services
from portal.rest import ScopedViewSet
from tenants.models import Role


class _CostData(ScopedViewSet):
    write_role = Role.ADMIN
    filter_backends = [DjangoFilterBackend]


@extend_schema_view(
    list=extend_schema(summary="Ingests of cost data, newest first"),
    retrieve=extend_schema(summary="One ingest: state, progress, counts and the refused rows"),
)
class IngestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _CostData):
    queryset = CostIngest.objects.select_related("created_by")
    pagination_class = cost_listing.NewestIngestsFirst
    filterset_class = cost_listing.IngestFilter
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_serializer_class(self):
        return IngestSerializer if self.action == "list" else IngestDetailSerializer

    @extend_schema(
        summary="Upload a file of teams and jobs, or of rates, to ingest (multipart)",
        request={"multipart/form-data": IngestUploadSerializer},
        responses={202: IngestDetailSerializer},
    )
    def create(self, request):
        upload = IngestUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        ingest = cost_services.start_cost_ingest(
            upload.validated_data["file"], kind=upload.validated_data["kind"], actor=request.user
        )
        return Response(IngestDetailSerializer(ingest).data, status=status.HTTP_202_ACCEPTED)


RATE_KEY = OpenApiParameter(
    "key", str, OpenApiParameter.PATH, description="day/provider/gpu_type, e.g. 2026-01-10/aws/a100"
)


@extend_schema_view(
    list=extend_schema(summary="Rates in US dollars per GPU-hour, latest day first"),
    retrieve=extend_schema(summary="The rate of one day, provider and GPU type", parameters=[RATE_KEY]),
)
class RateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _CostData):
    queryset = RateSnapshot.objects.select_related("updated_by")
    serializer_class = RateSerializer
    pagination_class = cost_listing.LatestRatesFirst
    filterset_class = cost_listing.RateFilter
    lookup_field = "key"
    lookup_value_regex = r"[0-9A-Za-z/-]+"  # day/provider/gpu_type; one character class keeps routes simple

    def get_object(self):
        parts = self.kwargs["key"].split("/")
        try:
            day, provider, gpu_type = parts
            day = date.fromisoformat(day)
        except ValueError as error:
            raise Http404 from error
        rate = (
            self.get_queryset().filter(day=day, provider=provider.lower(), gpu_type=gpu_type.lower()).first()
        )
        if rate is None:
            raise Http404
        return rate

    @extend_schema(
        summary="Set the rate of one day, provider and GPU type (replacing any); rollups are repriced",
        request=RateWriteSerializer,
        responses={201: RateSerializer},
    )
    def create(self, request):
        data = RateWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rate = cost_services.set_rate(**data.validated_data, actor=request.user)
        return Response(RateSerializer(rate).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change the rate of one day, provider and GPU type",
        request=RateValueSerializer,
        responses={200: RateSerializer},
        parameters=[RATE_KEY],
    )
    def update(self, request, key=None):
        rate = self.get_object()
        data = RateValueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rate = cost_services.set_rate(
            rate.day,
            rate.provider,
            rate.gpu_type,
            data.validated_data["usd_per_gpu_hour"],
            actor=request.user,
        )
        return Response(RateSerializer(rate).data)

    @extend_schema(summary="Delete a rate: its GPU-hours become unpriced", parameters=[RATE_KEY])
    def destroy(self, request, key=None):
        rate = self.get_object()
        try:
            cost_services.delete_rate(rate.day, rate.provider, rate.gpu_type, actor=request.user)
        except ObjectDoesNotExist as error:
            raise Http404 from error
        return Response(status=status.HTTP_204_NO_CONTENT)


TEAM_NAME = OpenApiParameter("name", str, OpenApiParameter.PATH, description="The team's name.")


@extend_schema_view(
    list=extend_schema(summary="Teams of the ingested jobs, with their monthly budgets"),
    retrieve=extend_schema(summary="One team", parameters=[TEAM_NAME]),
)
class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _CostData):
    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    pagination_class = cost_listing.TeamsByName
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"

    @extend_schema(
        summary="Set or clear a team's monthly budget",
        request=TeamBudgetSerializer,
        responses={200: TeamSerializer},
        parameters=[TEAM_NAME],
    )
    def partial_update(self, request, name=None):
        team = self.get_object()
        data = TeamBudgetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = cost_services.set_team_budget(team, data.validated_data["budget_usd"], actor=request.user)
        return Response(TeamSerializer(team).data)


JOB_ID = OpenApiParameter("job_id", str, OpenApiParameter.PATH, description="The job's id.")


@extend_schema_view(
    list=extend_schema(summary="Ingested GPU jobs, latest start first"),
    retrieve=extend_schema(summary="One ingested GPU job", parameters=[JOB_ID]),
)
class GpuJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _CostData):
    queryset = GpuJob.objects.select_related("team", "ingest")
    serializer_class = GpuJobSerializer
    pagination_class = cost_listing.LatestJobsFirst
    filterset_class = cost_listing.JobFilter
    lookup_field = "job_id"
    lookup_value_regex = r"[^/]+"
