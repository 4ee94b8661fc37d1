"""What the ISS jobs page and the ISS API share: the list filters and how an ISS failure is answered."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django import forms

from analysis.iss.client import (
    JOB_STATUSES,
    IssError,
    IssNotFound,
    IssRateLimited,
)
from analysis.iss.connections import IssNotConfigured

PAGE_SIZE = 25


class JobFilterForm(forms.Form):
    """The query string of a jobs list: one status, job types (comma-separated), queue, requester,
    parent instance, and the continuation token of the page to show (passed to ISS verbatim)."""

    status = forms.ChoiceField(choices=[("", "Any"), *((s, s) for s in JOB_STATUSES)], required=False)
    types = forms.CharField(required=False, max_length=500, help_text="Comma-separated, e.g. IWPS,ISIM")
    queue = forms.CharField(required=False, max_length=200)
    requested_by = forms.CharField(required=False, max_length=254)
    parent_instance = forms.CharField(required=False, max_length=200)
    continuation_token = forms.CharField(required=False, max_length=4000)

    def list_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "status": data["status"] or None,
            "job_types": data["types"] or None,
            "queue": data["queue"] or None,
            "requested_by": data["requested_by"] or None,
            "parent_instance_id": data["parent_instance"] or None,
            "continuation_token": data["continuation_token"] or None,
            "limit": PAGE_SIZE,
        }

    def is_filtered(self) -> bool:
        fields = ("status", "types", "queue", "requested_by", "parent_instance")
        return self.is_bound and any(self.data.get(name) for name in fields)


@dataclass(frozen=True)
class Failure:
    """How a page or the API answers an ISS failure: status, a code, a message safe to show, headers."""

    status: int
    code: str
    message: str
    retry_after: float | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(math.ceil(self.retry_after))} if self.retry_after is not None else {}


def failure_of(error: IssError) -> Failure:
    if isinstance(error, IssNotConfigured):
        return Failure(404, "iss_not_configured", str(error))
    if isinstance(error, IssNotFound):
        return Failure(404, "iss_not_found", f"Not found in ISS. {error}")
    if isinstance(error, IssRateLimited):
        return Failure(429, "iss_rate_limited", f"ISS is busy; try again shortly. {error}", error.retry_after)
    hint = " Ask an operator to check the tenant's ISS connection."
    return Failure(502, f"iss_{_kind(error)}", f"ISS could not answer. {error}.{hint}")


def _kind(error: IssError) -> str:
    name = type(error).__name__.removeprefix("Iss")
    return {"AuthError": "auth", "Unreachable": "unreachable"}.get(name, "upstream")
