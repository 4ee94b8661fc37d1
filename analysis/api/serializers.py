from rest_framework import serializers

from analysis.models import Profile


class ProfileSerializer(serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    created_by = serializers.SerializerMethodField()
    tool = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = [
            "code",
            "name",
            "source",
            "source_ref",
            "filename",
            "size",
            "format",
            "tool",
            "state",
            "state_label",
            "progress",
            "error",
            "error_line",
            "summary",
            "created_by",
            "created_at",
            "parsed_at",
        ]
        read_only_fields = fields

    def get_created_by(self, profile) -> str | None:
        return profile.created_by.email if profile.created_by else None

    def get_tool(self, profile) -> str:
        return profile.meta.get("tool", "")


class ProfileDetailSerializer(ProfileSerializer):
    meta = serializers.JSONField(read_only=True)

    class Meta(ProfileSerializer.Meta):
        fields = [*ProfileSerializer.Meta.fields, "meta"]
        read_only_fields = fields


class ProfileUploadSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="The profiler's output (may be gzip).")
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    disassembly = serializers.FileField(
        required=False,
        help_text="Optional `objdump -d` of the profiled binary (joins callgrind --dump-instr).",
    )
    workset = serializers.CharField(required=False, help_text="Instead of a file: a workset's code …")
    key = serializers.CharField(required=False, help_text="… and the key of a file in its results.")

    def validate(self, attrs):
        if bool(attrs.get("file")) == bool(attrs.get("workset") or attrs.get("key")):
            raise serializers.ValidationError(
                {"file": "Send a file, or a workset and the key of one of its results."}
            )
        if attrs.get("workset") and not attrs.get("key"):
            raise serializers.ValidationError({"key": "Which file of the workset's results?"})
        if attrs.get("key") and not attrs.get("workset"):
            raise serializers.ValidationError({"workset": "Which workset is the file from?"})
        return attrs


class InsightQuerySerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=["function", "line", "block"], default="function")
    event = serializers.CharField(required=False, allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=20)
    target = serializers.CharField(required=False, allow_blank=True, max_length=40)
    name = serializers.CharField(required=False, max_length=2000)
    object = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    against = serializers.CharField(required=False, max_length=40)
    max_depth = serializers.IntegerField(min_value=1, max_value=64, default=12)
    min_share = serializers.FloatField(min_value=0, max_value=1, default=0.005)
