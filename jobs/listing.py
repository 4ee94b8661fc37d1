"""How worksets are listed, by the API and by the page alike: the filters and newest-first cursor pages."""

import django_filters

from jobs.models import State, Workset
from portal.pagination import CursorPagination


class WorksetFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(
        choices=State.choices, help_text="One or more states; archived worksets show only when asked for."
    )
    pipeline = django_filters.CharFilter(lookup_expr="iexact")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    submitter = django_filters.CharFilter(
        field_name="submitted_by__email", lookup_expr="iexact", help_text="The submitter's email."
    )

    class Meta:
        model = Workset
        fields = ["state", "pipeline", "created_after", "created_before", "submitter"]

    @property
    def qs(self):
        queryset = super().qs
        return queryset if self.form.cleaned_data.get("state") else queryset.not_archived()


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
