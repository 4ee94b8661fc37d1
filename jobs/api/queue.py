"""``/api/v1/queue/stats``: the tenant's own worksets by state, cluster and priority (every member)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.stats import UNASSIGNED, queue_stats


class QueueStatsSerializer(serializers.Serializer):
    by_state = serializers.DictField(
        child=serializers.IntegerField(), help_text="The tenant's worksets by state (every state listed)."
    )
    by_cluster = serializers.DictField(
        child=serializers.IntegerField(),
        help_text=f"Active worksets (queued, dispatched, running, retry_wait) by cluster; "
        f"“{UNASSIGNED}” until the dispatcher picks one.",
    )
    by_priority = serializers.DictField(
        child=serializers.IntegerField(), help_text="Active worksets by priority (urgent, normal, low)."
    )
    oldest_queued_age_seconds = serializers.IntegerField(
        allow_null=True, help_text="Seconds the longest-waiting queued workset has been queued; null if none."
    )
    generated_at = serializers.DateTimeField()


class QueueStatsView(APIView):
    @extend_schema(responses=QueueStatsSerializer, summary="Queue statistics of this tenant's worksets")
    def get(self, request):
        return Response(QueueStatsSerializer(queue_stats()).data)
