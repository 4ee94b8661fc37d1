"""The tenant's audit trail over the API: owners and admins read it; to anyone else it is not there (404)."""

from django.urls import include, path
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.routers import DefaultRouter

from tenants.activity import ActivityFilter, NewestFirst, listed
from tenants.models import AuditEvent, Role


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)

    class Meta:
        model = AuditEvent
        fields = ["id", "created", "actor", "action", "target", "source", "ip", "user_agent", "data"]


class ActivityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The tenant's audit events, newest first, with the Activity page's filters."""

    serializer_class = AuditEventSerializer
    pagination_class = NewestFirst
    filter_backends = [DjangoFilterBackend]
    filterset_class = ActivityFilter
    queryset = AuditEvent.objects.none()  # for the schema; requests get their tenant's below

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        if not self.request.membership.allows(Role.ADMIN):
            raise exceptions.NotFound()
        return listed(AuditEvent.objects.of_tenant(self.request.tenant))


router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.include_format_suffixes = False
router.register("activity", ActivityViewSet, basename="activity")

urlpatterns = [path("", include(router.urls))]
