"""Serializers of ``/api/v1/analytics/cost…``: the questions' parameters (validated like a form, 400
with the field at fault) and the answers' shapes (for the OpenAPI schema)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from analysis import cost_analytics, cost_exports
from analysis.costs import records

MAX_DAYS = 366
DEFAULT_DAYS = 30
SOURCES = ("rollups", "jobs")  # where an answer came from (see analysis.cost_analytics)
GROUP_KEYS = ("team", "model", "provider", "gpu_type", "day", "week", "month")


class _CommaList(serializers.CharField):
    """``a,b,c`` → a tuple of trimmed, non-empty items."""

    def to_internal_value(self, data):
        return tuple(item.strip() for item in super().to_internal_value(data).split(",") if item.strip())


class CostQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First UTC day (default: 29 days before end).")
    end = serializers.DateField(required=False, help_text="Last UTC day, inclusive (default: today).")
    team = _CommaList(required=False, help_text="Team names, comma-separated.")
    model = _CommaList(required=False, help_text="Model names, comma-separated.")
    provider = _CommaList(required=False, help_text=f"Of: {', '.join(records.PROVIDERS)}.")
    gpu_type = _CommaList(required=False, help_text=f"Of: {', '.join(records.GPU_TYPES)}.")
    status = _CommaList(required=False, help_text=f"Of: {', '.join(records.STATUSES)} (read from the jobs).")

    def _each(self, values, normalise):
        try:
            return tuple(dict.fromkeys(normalise(value) for value in values))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def validate_provider(self, values):
        return self._each(values, records.normalise_provider)

    def validate_gpu_type(self, values):
        return self._each(values, records.normalise_gpu_type)

    def validate_status(self, values):
        return self._each(values, records.normalise_status)

    def validate_model(self, values):
        return tuple(value.lower() for value in values)

    def validate(self, attrs):
        end = attrs.get("end") or timezone.now().date()
        start = attrs.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if end < start:
            raise ValidationError({"end": ["The end day is before the start day."]})
        if (end - start).days >= MAX_DAYS:
            raise ValidationError({"start": [f"A period is at most {MAX_DAYS} days."]})
        return {**attrs, "start": start, "end": end}

    def query(self) -> cost_analytics.CostQuery:
        data = self.validated_data
        return cost_analytics.CostQuery(
            start=data["start"],
            end=data["end"],
            teams=data.get("team", ()),
            models=data.get("model", ()),
            providers=data.get("provider", ()),
            gpu_types=data.get("gpu_type", ()),
            statuses=data.get("status", ()),
        )


class ExportSerializer(serializers.Serializer):
    export = serializers.ChoiceField(
        choices=cost_exports.FORMATS,
        required=False,
        help_text="csv or xlsx: the same figures as a file (an attachment, money in cents) instead of JSON.",
    )


class GroupedQuerySerializer(CostQuerySerializer):
    group_by = _CommaList(required=False, help_text=f"Comma-separated, of: {', '.join(GROUP_KEYS)}.")

    def validate_group_by(self, values):
        unknown = [value for value in values if value.lower() not in GROUP_KEYS]
        if unknown:
            raise ValidationError(f"Cannot group by {', '.join(unknown)}: use {', '.join(GROUP_KEYS)}.")
        return tuple(dict.fromkeys(value.lower() for value in values))


class TrendQuerySerializer(CostQuerySerializer):
    period = serializers.ChoiceField(choices=["day", "week", "month"], default="day")
    group_by = serializers.ChoiceField(
        choices=["team", "model", "provider", "gpu_type"], required=False, help_text="One series per group."
    )


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


class FiguresSerializer(serializers.Serializer):
    cost = serializers.FloatField(help_text="US dollars, rounded to cents.")
    gpu_hours = serializers.FloatField()
    job_count = serializers.IntegerField(help_text="Jobs that started in the period.")
    unpriced_gpu_hours = serializers.FloatField(help_text="GPU-hours of days with no rate: not in cost.")
    provisional_cost = serializers.FloatField(help_text="The part of cost from jobs still running.")


class GroupSerializer(FiguresSerializer):
    group = serializers.DictField(child=serializers.CharField(), help_text="The group's keys and values.")


class CostAnswerSerializer(serializers.Serializer):
    period = PeriodSerializer()
    currency = serializers.CharField()
    group_by = serializers.ListField(child=serializers.CharField())
    source = serializers.ChoiceField(choices=SOURCES, help_text="Daily rollups, or the jobs themselves.")
    total = FiguresSerializer()
    groups = GroupSerializer(many=True)


class HelioxRowSerializer(serializers.Serializer):
    total_cost_usd = serializers.FloatField()
    gpu_hours = serializers.FloatField()
    job_count = serializers.IntegerField()


class ByModelRowSerializer(HelioxRowSerializer):
    model_name = serializers.CharField()


class ByTeamRowSerializer(HelioxRowSerializer):
    team_name = serializers.CharField()


class TrendPointSerializer(FiguresSerializer):
    period_start = serializers.DateField()
    group = serializers.CharField(allow_null=True)


class TrendAnswerSerializer(serializers.Serializer):
    period = PeriodSerializer()
    every = serializers.CharField()
    group_by = serializers.CharField(allow_null=True)
    points = TrendPointSerializer(many=True)


class AsOfSerializer(serializers.Serializer):
    today = serializers.DateField(required=False, help_text="The UTC day to answer as of (default: today).")

    def as_of(self):
        return self.validated_data.get("today") or timezone.now().date()


class BudgetRowSerializer(serializers.Serializer):
    team_name = serializers.CharField()
    budget_usd = serializers.FloatField(allow_null=True, help_text="Monthly budget; null when none is set.")
    spent = serializers.FloatField(help_text="This month up to today, provisional cost included.")
    remaining = serializers.FloatField(allow_null=True)
    share_used = serializers.FloatField(allow_null=True)
    daily_mean = serializers.FloatField(help_text="Mean daily cost of the last 7 days of the month.")
    days_left = serializers.IntegerField()
    projected = serializers.FloatField(help_text="Estimated month-end spend at the last 7 days' pace.")
    status = serializers.ChoiceField(choices=["ok", "at_risk", "over", "no_budget"])


class BudgetAnswerSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    today = serializers.DateField()
    currency = serializers.CharField()
    teams = BudgetRowSerializer(many=True)


class ForecastPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    forecast = serializers.FloatField()
    lower = serializers.FloatField()
    upper = serializers.FloatField()


class ForecastTotalSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    total = serializers.FloatField()
    lower = serializers.FloatField()
    upper = serializers.FloatField()


class ForecastAnswerSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="Always 'forecast': these figures are estimates.")
    method = serializers.CharField()
    history_days = serializers.IntegerField(help_text="Days of history the forecast was fitted on.")
    available = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why there is no forecast, when there is none.")
    total = ForecastTotalSerializer(allow_null=True)
    days = ForecastPointSerializer(many=True)


class RecommendationSerializer(serializers.Serializer):
    kind = serializers.CharField()
    severity = serializers.ChoiceField(choices=["high", "medium", "low"])
    title = serializers.CharField()
    reason = serializers.CharField()
    savings_usd = serializers.FloatField(allow_null=True, help_text="Estimated; null when only at stake.")
    team_name = serializers.CharField(allow_null=True)
    job_ids = serializers.ListField(child=serializers.CharField())
    evidence = serializers.DictField()


class RecommendationAnswerSerializer(serializers.Serializer):
    period = PeriodSerializer()
    label = serializers.CharField()
    jobs_cut = serializers.BooleanField(help_text="True when only the newest jobs were examined.")
    recommendations = RecommendationSerializer(many=True)
