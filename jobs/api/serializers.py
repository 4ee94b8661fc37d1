"""Shapes of worksets in the API. No business logic: the services validate specs and move states."""

from rest_framework import serializers

from jobs.models import Workset, WorksetStep, WorksetTransition


class TransitionSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", default=None, read_only=True)

    class Meta:
        model = WorksetTransition
        fields = ["from_state", "to_state", "actor", "reason", "at"]


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorksetStep
        fields = ["name", "status", "exit_code", "started_at", "finished_at", "vcpu_hours", "message"]
        read_only_fields = fields


class WorksetSerializer(serializers.ModelSerializer):
    submitted_by = serializers.EmailField(source="submitted_by.email", default=None, read_only=True)

    class Meta:
        model = Workset
        fields = [
            "code",
            "name",
            "pipeline",
            "reference_genome",
            "priority",
            "state",
            "state_changed_at",
            "sample_count",
            "attempt",
            "submitted_by",
            "estimate",
            "cluster",
            "current_step",
            "progress",
            "measured_cost_usd",
            "created_at",
        ]
        read_only_fields = fields


class WorksetDetailSerializer(WorksetSerializer):
    retry_of = serializers.SlugRelatedField(slug_field="code", read_only=True)
    retries = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    transitions = TransitionSerializer(many=True, read_only=True)
    steps = StepSerializer(many=True, read_only=True)

    class Meta(WorksetSerializer.Meta):
        fields = [
            *WorksetSerializer.Meta.fields,
            "max_retries",
            "preferred_cluster",
            "archived_from",
            "retry_of",
            "retries",
            "spec",
            "validation",
            "started_at",
            "finished_at",
            "measured_vcpu_hours",
            "measured_storage_gb",
            "dispatch_reason",
            "auto_retries",
            "retry_at",
            "failed_step",
            "failure_code",
            "failure_class",
            "results_prefix",
            "steps",
            "transitions",
        ]
        read_only_fields = fields


class SpecField(serializers.JSONField):
    """DRF's JSONField, for which a form's JSON text nested past the recursion limit is invalid JSON (DRF
    catches only ValueError there, and the RecursionError was a 500)."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except RecursionError:
            self.fail("invalid")


class WorksetCreateSerializer(serializers.Serializer):
    spec = SpecField(required=False, help_text="The canonical spec (workset.v1.schema.json).")
    yaml = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="Instead of ``spec``: the spec as YAML (canonical, daylily_work.yaml or sample-oriented).",
    )
    submit = serializers.BooleanField(
        default=True, help_text="Queue it now (default); false stores it validated, to submit later."
    )
    strict = serializers.BooleanField(default=False, help_text="Treat validation warnings as errors.")

    def validate_spec(self, value):
        if value is None:  # a form's "null": JSON's null is refused before it gets here
            raise serializers.ValidationError("This field may not be null.")
        return value

    def validate(self, attrs):
        if ("spec" in attrs) == ("yaml" in attrs):
            raise serializers.ValidationError({"spec": ["Give the workset as either `spec` or `yaml`."]})
        return attrs


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class DiagnosisSerializer(serializers.Serializer):
    workset = serializers.CharField()
    diagnosis = serializers.DictField(
        allow_null=True,
        help_text="Null until a step failed. Else the failed step, the catalogue entry (code, name, "
        "severity, category, failure_class, retryable, description, remediation), the matched log lines, "
        "every match, the excerpt it was computed from, and the report as text and HTML.",
    )
