"""Serializers of the data that feeds cost analytics: ingests, rates, teams and GPU jobs."""

from rest_framework import serializers

from analysis.costs.records import normalise_gpu_type, normalise_provider
from analysis.models import CostIngest, GpuJob, RateSnapshot, Team
from analysis.models.costs import IngestKind


def _email(user) -> str | None:
    return user.email if user else None


class IngestSerializer(serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    created_by = serializers.SerializerMethodField()
    counts = serializers.JSONField(
        read_only=True,
        help_text='Per kind of row: {"teams": {"inserted", "updated", "unchanged", "created_for_jobs"}, '
        '"jobs": {…}, "rates": {…}}.',
    )

    class Meta:
        model = CostIngest
        fields = [
            "code",
            "kind",
            "filename",
            "format",
            "size",
            "state",
            "state_label",
            "progress",
            "rows_done",
            "counts",
            "failed",
            "error",
            "created_by",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_created_by(self, ingest) -> str | None:
        return _email(ingest.created_by)


class IngestFailureSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="File line (CSV, JSON Lines) or position in its JSON array.")
    kind = serializers.CharField(help_text="team, job, rate, header or document.")
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class IngestDetailSerializer(IngestSerializer):
    failures = IngestFailureSerializer(many=True, read_only=True, help_text="The first 1 000 refused rows.")

    class Meta(IngestSerializer.Meta):
        fields = [*IngestSerializer.Meta.fields, "failures"]
        read_only_fields = fields


class IngestUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="JSON, JSON Lines or CSV of teams and jobs; or a CSV of rates.")
    kind = serializers.ChoiceField(choices=IngestKind.choices, default=IngestKind.JOBS)


class _RateKeyFields(serializers.Serializer):
    def validate_provider(self, value: str) -> str:
        try:
            return normalise_provider(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error

    def validate_gpu_type(self, value: str) -> str:
        try:
            return normalise_gpu_type(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error


class RateSerializer(serializers.ModelSerializer):
    updated_by = serializers.SerializerMethodField()

    class Meta:
        model = RateSnapshot
        fields = ["day", "provider", "gpu_type", "usd_per_gpu_hour", "source", "updated_by", "updated"]
        read_only_fields = fields

    def get_updated_by(self, rate) -> str | None:
        return _email(rate.updated_by)


class RateWriteSerializer(_RateKeyFields):
    day = serializers.DateField(help_text="The UTC day the rate applies to.")
    provider = serializers.CharField(max_length=20)
    gpu_type = serializers.CharField(max_length=20)
    usd_per_gpu_hour = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0)


class RateValueSerializer(serializers.Serializer):
    usd_per_gpu_hour = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["name", "description", "budget_usd", "created", "updated"]
        read_only_fields = fields


class TeamBudgetSerializer(serializers.Serializer):
    budget_usd = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        allow_null=True,
        help_text="US dollars a month; null: none.",
    )


class GpuJobSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name", read_only=True)
    ingest = serializers.SerializerMethodField(help_text="The ingest that last inserted or changed the job.")

    class Meta:
        model = GpuJob
        fields = [
            "job_id",
            "team",
            "model_name",
            "provider",
            "gpu_type",
            "gpu_count",
            "start_time",
            "end_time",
            "status",
            "ingest",
            "updated",
        ]
        read_only_fields = fields

    def get_ingest(self, job) -> str | None:
        return job.ingest.code if job.ingest else None
