from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.rest import ScopedViewSet
from tenants import services
from tenants.api.serializers import (
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    MembershipSerializer,
    MeSerializer,
    NewApiTokenSerializer,
)
from tenants.models import ApiToken, Membership


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="Who am I: user, tenant and role")
    def get(self, request):
        data = {"user": request.user, "tenant": request.tenant, "role": request.membership.role}
        return Response(MeSerializer(data).data)


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ScopedViewSet
):
    """The caller's own tokens in this tenant. DELETE revokes (the row stays, for the record)."""

    queryset = ApiToken.objects.all()
    serializer_class = ApiTokenSerializer
    write_role = "viewer"  # everyone may manage their own tokens

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: NewApiTokenSerializer})
    def create(self, request):
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.create_api_token(
            user=request.user, tenant=request.tenant, actor=request.user, **serializer.validated_data
        )
        token.key = key
        return Response(NewApiTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.revoke_api_token(instance, actor=self.request.user)


class MembershipViewSet(mixins.ListModelMixin, ScopedViewSet):
    queryset = Membership.objects.select_related("user")
    serializer_class = MembershipSerializer
