"""ISS pages: the tenant's ISS jobs (filters, continuation-token pages), a job with its artifact files,
the platforms, and importing an artifact file as a profile.

Every member reads; members and up import. ISS answers come straight from ISS on each request (nothing is
stored but imported files); its failures are shown on the page with the status they deserve (404, 429 with
Retry-After, 502), and a tenant without an ISS connection is told so instead of getting an error.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from tempfile import SpooledTemporaryFile
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from analysis.iss.client import JOB_STATUSES, IssError, IssNotFound
from analysis.iss.connections import IssNotConfigured, iss_client_for
from analysis.iss.listing import JobFilterForm, failure_of
from tenants.models import Role

SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
JOB_SUMMARY_KEYS = (
    "Name",
    "Type",
    "JobRequestStatus",
    "Queue",
    "RequestedBy",
    "RequestedOn",
    "LastUpdatedOn",
)


def can_import(request) -> bool:
    return request.membership.allows(Role.MEMBER) and request.tenant.is_active


def iss_jobs(request):
    form = JobFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "statuses": JOB_STATUSES, "filtered": form.is_filtered()}
    if not form.is_valid():
        return render(request, "analysis/iss_jobs.html", {**context, "jobs": []}, status=400)
    try:
        page = iss_client_for(request.tenant).list_jobs(**form.list_arguments())
    except IssError as error:
        return _failed(request, "analysis/iss_jobs.html", context, error)
    context.update(jobs=page.jobs, next_page=_next_page(request, page.continuation_token))
    context["first_page"] = bool(request.GET.get("continuation_token"))
    return render(request, "analysis/iss_jobs.html", context)


def iss_job(request, job_id: str):
    context: dict[str, Any] = {"job_id": job_id, "can_import": can_import(request)}
    try:
        client = iss_client_for(request.tenant)
        job = client.get_job(job_id)
        files, files_missing = _files_of(client, job_id, job)
    except IssError as error:
        return _failed(request, "analysis/iss_job.html", context, error)
    context.update(
        job=job,
        summary=[(key, job.get(key)) for key in JOB_SUMMARY_KEYS],
        details=_details(job),
        files=files,
        files_missing=files_missing,
        platform_id=job.get("PlatformID") or job.get("Platform"),
    )
    return render(request, "analysis/iss_job.html", context)


def iss_platforms(request):
    context: dict[str, Any] = {}
    try:
        context["platforms"] = iss_client_for(request.tenant).list_platforms()
    except IssError as error:
        return _failed(request, "analysis/iss_platforms.html", context, error)
    return render(request, "analysis/iss_platforms.html", context)


@require_POST
def iss_import(request, job_id: str):
    """Stream one artifact file into a spooled temporary file (memory up to 8 MB, then disk) and hand it to
    ``create_profile``; ISS's bytes never sit whole in memory."""
    from analysis.services.profiles import create_profile

    if not can_import(request):
        raise PermissionDenied("Importing ISS files needs the member role.")
    path = request.POST.get("path", "").strip()
    context: dict[str, Any] = {"job_id": job_id, "can_import": True}
    try:
        client = iss_client_for(request.tenant)
        job = client.get_job(job_id)
        with SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
            size = _spool(client.download(job_id, str(job.get("Type") or ""), path), spool)
            profile = create_profile(
                name=_profile_name(job, job_id, path),
                filename=PurePosixPath(path).name,
                data=spool,
                size=size,
                source="iss",
                source_ref=f"{job_id}/{path}",
                actor=request.user,
            )
    except IssError as error:
        return _failed(request, "analysis/iss_job.html", context, error)
    except (ValueError, ValidationError) as error:
        messages.error(request, f"Could not import {path or 'the file'}: {_message(error)}")
        return redirect("iss_job", job_id=job_id)
    messages.success(request, f"Imported {path} from ISS job {job_id} as profile {profile.code}.")
    return redirect(f"/profiles/{profile.code}/")


def _files_of(client, job_id: str, job: dict) -> tuple[list, bool]:
    """A job that has produced no files yet has no folder on the file service: that is an empty list."""
    try:
        return client.list_files(job_id, str(job.get("Type") or "")), False
    except IssNotFound:
        return [], True


def _spool(chunks, spool) -> int:
    """Copy the download, stopping as soon as it passes the profile size limit (ISS's listed size may lie)."""
    size, limit = 0, settings.RUNYARD_MAX_PROFILE_BYTES
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            chunks.close()
            raise ValidationError(f"The file is larger than the {limit // 1024**2} MB profiles may have.")
        spool.write(chunk)
    spool.seek(0)
    return size


def _profile_name(job: dict, job_id: str, path: str) -> str:
    return f"{job.get('Name') or job_id} · {PurePosixPath(path).name}"[:100]


def _message(error: Exception) -> str:
    return " ".join(error.messages) if isinstance(error, ValidationError) else str(error)


def _details(job: dict) -> list[tuple[str, str]]:
    rest = [(key, value) for key, value in job.items() if key not in JOB_SUMMARY_KEYS]
    return [(key, _shown(value)) for key, value in rest]


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    return json.dumps(value, indent=2) if isinstance(value, (dict, list)) else str(value)


def _next_page(request, token: str | None) -> str | None:
    if not token:
        return None
    query = request.GET.copy()
    query["continuation_token"] = token
    return f"{reverse('iss_jobs')}?{query.urlencode()}"


def _failed(request, template: str, context: dict, error: IssError):
    if isinstance(error, IssNotConfigured):
        return render(request, template, {**context, "not_configured": True})
    failure = failure_of(error)
    response = render(request, template, {**context, "failure": failure}, status=failure.status)
    for name, value in failure.headers.items():
        response[name] = value
    return response
