"""How profiles are listed, by the API and by the page alike."""

import django_filters

from analysis.models import Profile, Source, State
from portal.pagination import CursorPagination


class ProfileFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=State.choices)
    source = django_filters.ChoiceFilter(choices=Source.choices)
    format = django_filters.CharFilter()
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Profile
        fields = ["state", "source", "format", "name"]


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
