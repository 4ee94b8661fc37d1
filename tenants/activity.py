"""How audit events are listed, by the Activity page, the API and the operators' admin alike: the filters,
newest-first cursor pages and the streamed CSV."""

import csv
import json
from itertools import chain

import django_filters
from django import forms
from django.http import StreamingHttpResponse

from portal.pagination import CursorPagination
from tenants.models import AuditEvent

CSV_HEADER = ["created", "tenant", "actor", "action", "target", "source", "ip", "user_agent", "data"]


class ActivityForm(forms.Form):
    def clean(self):
        data = super().clean()
        start, end = data.get("created_after"), data.get("created_before")
        if start and end and start > end:
            self.add_error("created_before", "Must be on or after the start day.")
        return data


class ActivityFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(
        method="filter_action",
        help_text="An action, e.g. workset.created, or a family ending in '.', e.g. workset.",
    )
    person = django_filters.CharFilter(
        field_name="actor__email", lookup_expr="iexact", help_text="The actor's email."
    )
    created_after = django_filters.DateFilter(
        field_name="created", lookup_expr="date__gte", help_text="From this day (UTC), inclusive."
    )
    created_before = django_filters.DateFilter(
        field_name="created", lookup_expr="date__lte", help_text="To this day (UTC), inclusive."
    )
    q = django_filters.CharFilter(
        method="search_text", help_text="Text in the action, target or actor's email."
    )

    class Meta:
        model = AuditEvent
        fields = ["action", "person", "created_after", "created_before", "q"]
        form = ActivityForm

    def filter_action(self, queryset, name, value):
        if value.endswith("."):
            return queryset.filter(action__istartswith=value)
        return queryset.filter(action__iexact=value)

    def search_text(self, queryset, name, value):
        return queryset.search(value)


class NewestFirst(CursorPagination):
    ordering = ("-created", "-id")


def listed(queryset):
    return queryset.select_related("actor", "tenant")


def _line(event) -> list:
    return [
        event.created.isoformat(),
        event.tenant.slug if event.tenant else "",
        event.actor.email if event.actor else "",
        event.action,
        event.target,
        event.source,
        event.ip or "",
        event.user_agent,
        _json(event.data),
    ]


def _json(data) -> str:
    return json.dumps(data, sort_keys=True, default=str) if data else ""


class _Echo:
    def write(self, value):
        return value


def csv_response(queryset, filename: str) -> StreamingHttpResponse:
    """Streamed: an export of a year of events never sits in memory (rows are read in chunks)."""
    writer = csv.writer(_Echo())
    rows = listed(queryset).order_by("-created", "-id").iterator(chunk_size=2000)
    lines = (writer.writerow(line) for line in chain([CSV_HEADER], map(_line, rows)))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
