"""The ISS jobs as JSON: list (same filters and continuation token as the page), one job with its artifact
files, the platforms, and the job-definition schema. Read-only, so every member (viewers too) may call it.

ISS failures keep the API's one error shape: 404 ``iss_not_found`` / ``iss_not_configured``, 429
``iss_rate_limited`` with Retry-After, 502 ``iss_auth`` / ``iss_upstream`` / ``iss_unreachable``.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.iss.client import JOB_STATUSES, IssError, IssNotFound
from analysis.iss.connections import iss_client_for
from analysis.iss.listing import JobFilterForm, failure_of


class IssFailure(exceptions.APIException):
    def __init__(self, error: IssError):
        failure = failure_of(error)
        self.status_code = failure.status
        self.headers = failure.headers
        super().__init__(failure.message, failure.code)


class IssApiView(APIView):
    def handle_exception(self, exc):
        if isinstance(exc, IssError):
            failure = IssFailure(exc)
            response = super().handle_exception(failure)
            for name, value in failure.headers.items():
                response[name] = value
            return response
        return super().handle_exception(exc)

    def client(self):
        return iss_client_for(self.request.tenant)


LIST_PARAMETERS = [
    OpenApiParameter("status", str, enum=list(JOB_STATUSES)),
    OpenApiParameter("types", str, description="Job types, comma-separated (e.g. IWPS,ISIM)"),
    OpenApiParameter("queue", str),
    OpenApiParameter("requested_by", str),
    OpenApiParameter("parent_instance", str),
    OpenApiParameter("continuation_token", str, description="The previous page's continuation_token"),
]


class IssJobsView(IssApiView):
    @extend_schema(
        operation_id="iss_jobs_list",
        parameters=LIST_PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        summary="List ISS jobs",
    )
    def get(self, request):
        form = JobFilterForm(request.query_params)
        if not form.is_valid():
            raise exceptions.ValidationError(form.errors)
        page = self.client().list_jobs(**form.list_arguments())
        return Response(
            {"jobs": page.jobs, "count": page.count, "continuation_token": page.continuation_token}
        )


class IssJobView(IssApiView):
    @extend_schema(
        operation_id="iss_job", responses=OpenApiTypes.OBJECT, summary="One ISS job and its artifact files"
    )
    def get(self, request, job_id: str):
        client = self.client()
        job = client.get_job(job_id)
        try:
            files = client.list_files(job_id, str(job.get("Type") or ""))
        except IssNotFound:
            files = []
        listed = [{"name": file.name, "size": file.size} for file in files]
        return Response({"job": job, "files": listed})


class IssPlatformsView(IssApiView):
    @extend_schema(operation_id="iss_platforms_list", responses=OpenApiTypes.OBJECT, summary="ISS platforms")
    def get(self, request):
        return Response({"platforms": self.client().list_platforms()})


class IssPlatformView(IssApiView):
    @extend_schema(operation_id="iss_platform", responses=OpenApiTypes.OBJECT, summary="One ISS platform")
    def get(self, request, platform_id: str):
        return Response(self.client().get_platform(platform_id))


class IssJobSchemaView(IssApiView):
    @extend_schema(
        operation_id="iss_job_schema", responses=OpenApiTypes.OBJECT, summary="The ISS job-definition schema"
    )
    def get(self, request):
        return Response(self.client().job_schema())
