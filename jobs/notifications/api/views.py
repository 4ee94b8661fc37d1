"""``/api/v1/notification-channels`` (CRUD, plus ``/test``) and ``/api/v1/notification-deliveries`` (the log).

Owners and admins only: channels hold secrets. To every other member both endpoints do not exist (404).
"""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from jobs.notifications import services
from jobs.notifications.api.serializers import ChannelSerializer, DeliverySerializer
from jobs.notifications.models import Channel, Delivery, Event, manages_notifications
from portal.pagination import CursorPagination
from portal.rest import ScopedViewSet
from tenants.models import Role


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")


class AdminsOnly:
    """Members pass the default permission (so a suspended tenant still answers 403 on writes), then
    everyone below admin meets a 404."""

    write_role = Role.VIEWER

    def check_permissions(self, request):
        super().check_permissions(request)
        if not manages_notifications(request.membership):
            raise exceptions.NotFound()


class ChannelViewSet(
    AdminsOnly,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ScopedViewSet,
):
    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer
    pagination_class = NewestFirst

    def perform_create(self, serializer):
        services.save_channel(serializer, actor=self.request.user)

    def perform_update(self, serializer):
        services.save_channel(serializer, actor=self.request.user)

    def perform_destroy(self, instance):
        services.delete_channel(instance, actor=self.request.user)

    @extend_schema(
        summary="Send a test event to this channel (also while disabled)",
        request=None,
        responses={202: DeliverySerializer},
    )
    @action(detail=True, methods=["post"])
    def test(self, request, code=None):
        delivery = services.send_test(self.get_object(), actor=request.user)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryFilter(django_filters.FilterSet):
    event = django_filters.ChoiceFilter(choices=Event.choices)
    status = django_filters.ChoiceFilter(choices=Delivery.Status.choices)
    workset = django_filters.CharFilter(field_name="workset_code")

    class Meta:
        model = Delivery
        fields = ["event", "status", "workset"]


class DeliveryViewSet(AdminsOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Delivery.objects.select_related("channel")
    serializer_class = DeliverySerializer
    pagination_class = NewestFirst
    filter_backends = [DjangoFilterBackend]
    filterset_class = DeliveryFilter
