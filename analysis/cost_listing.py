"""How cost data is listed and filtered, by the API and by the pages alike."""

from datetime import UTC, datetime, time, timedelta

import django_filters
from django.db.models import Q

from analysis.costs.records import GPU_TYPES, PROVIDERS, STATUSES
from analysis.models import CostIngest, GpuJob, RateSnapshot
from analysis.models.costs import IngestKind, IngestState
from portal.pagination import CursorPagination

PROVIDER_CHOICES = [(name, name) for name in PROVIDERS]
GPU_CHOICES = [(name, name) for name in GPU_TYPES]


def _lower(value: str) -> str:
    return value.strip().lower()


class IngestFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=IngestKind.choices)
    state = django_filters.MultipleChoiceFilter(choices=IngestState.choices)

    class Meta:
        model = CostIngest
        fields = ["kind", "state"]


class RateFilter(django_filters.FilterSet):
    provider = django_filters.ChoiceFilter(choices=PROVIDER_CHOICES)
    gpu_type = django_filters.ChoiceFilter(choices=GPU_CHOICES)
    start = django_filters.DateFilter(
        field_name="day", lookup_expr="gte", help_text="First UTC day (inclusive)."
    )
    end = django_filters.DateFilter(
        field_name="day", lookup_expr="lte", help_text="Last UTC day (inclusive)."
    )

    class Meta:
        model = RateSnapshot
        fields = ["provider", "gpu_type", "start", "end"]


class JobFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__name", help_text="Team name (exact).")
    model = django_filters.CharFilter(field_name="model_name", method="lowered", help_text="Model name.")
    provider = django_filters.ChoiceFilter(choices=PROVIDER_CHOICES)
    gpu_type = django_filters.ChoiceFilter(choices=GPU_CHOICES)
    status = django_filters.MultipleChoiceFilter(choices=[(name, name) for name in STATUSES])
    start = django_filters.DateFilter(
        method="ran_from", help_text="Jobs still running on or after this UTC day."
    )
    end = django_filters.DateFilter(method="ran_until", help_text="Jobs started on or before this UTC day.")

    class Meta:
        model = GpuJob
        fields = ["team", "model", "provider", "gpu_type", "status", "start", "end"]

    def lowered(self, queryset, name, value):
        return queryset.filter(**{name: _lower(value)})

    def ran_from(self, queryset, name, value):
        moment = _utc_midnight(value)
        return queryset.filter(Q(end_time__gte=moment) | Q(end_time__isnull=True))

    def ran_until(self, queryset, name, value):
        return queryset.filter(start_time__lt=_utc_midnight(value + timedelta(days=1)))


def _utc_midnight(day) -> datetime:
    return datetime.combine(day, time(), UTC)


class NewestIngestsFirst(CursorPagination):
    ordering = ("-created_at", "-id")


class LatestRatesFirst(CursorPagination):
    ordering = ("-day", "provider", "gpu_type")


class TeamsByName(CursorPagination):
    ordering = ("name",)


class LatestJobsFirst(CursorPagination):
    ordering = ("-start_time", "-id")
