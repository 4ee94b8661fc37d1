"""``/api/v1/analytics/cost…``: what the tenant's GPU jobs cost, by any grouping, over a period.

Every member may read. Figures are US dollars prorated per UTC day at the tenant's own rates
(``analysis.costs.proration``); ``provisional_cost`` is the part from jobs still running, and
``unpriced_gpu_hours`` the GPU-hours of days with no rate (never priced as $0).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import cost_analytics, cost_exports
from analysis.costs import forecast, records, rollups

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


def _export_format(request) -> str | None:
    """The asked file format, checked before any figure is computed (400 naming ``export``)."""
    serializer = ExportSerializer(
        data={"export": request.query_params["export"]} if "export" in request.query_params else {}
    )
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data.get("export")


def _file(frame: pd.DataFrame, fmt: str, name: str, stem: str):
    return cost_exports.attachment({name: frame}, fmt, stem)


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


def _query(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer, serializer.query()


def cents(value: float) -> float:
    """US dollars rounded to cents, half up as on an invoice. The sums are float64 (error ~1e-12), so
    they are first rounded to micro-dollars: an exact half cent stays a half cent and rounds up."""
    return float(Decimal(f"{value:.6f}").quantize(Decimal("0.01"), ROUND_HALF_UP))


def _figures(row) -> dict:
    return {
        "cost": cents(row["cost"]),
        "gpu_hours": round(float(row["gpu_hours"]), 4),
        "job_count": int(row["job_count"]),
        "unpriced_gpu_hours": round(float(row["unpriced_gpu_hours"]), 4),
        "provisional_cost": cents(row["provisional_cost"]),
    }


def _label(value) -> str:
    return value.date().isoformat() if isinstance(value, pd.Timestamp) else str(value)


def _period(query) -> dict:
    return {"start": query.start, "end": query.end}


class CostView(APIView):
    @extend_schema(
        parameters=[GroupedQuerySerializer, ExportSerializer],
        responses=CostAnswerSerializer,
        summary="Cost, GPU-hours and job count per group over a period, most expensive first",
    )
    def get(self, request):
        fmt = _export_format(request)
        serializer, query = _query(GroupedQuerySerializer, request)
        group_by = list(serializer.validated_data.get("group_by", ()))
        answer = cost_analytics.cost_by(query, group_by)
        if fmt:
            by = "-".join(group_by) or "total"
            return _file(answer, fmt, f"Cost by {by}", f"cost-by-{by}-{query.start}-{query.end}")
        columns = rollups.group_columns(group_by)
        groups = [
            {
                "group": {key: _label(row[col]) for key, col in zip(group_by, columns, strict=True)},
                **_figures(row),
            }
            for _, row in answer.iterrows()
        ]
        total = rollups.cost_by(answer.rename(columns={"job_count": "jobs_started"}), [])
        data = {
            "period": _period(query),
            "currency": "USD",
            "group_by": group_by,
            "source": "jobs" if query.needs_raw else "rollups",
            "total": _figures(total.iloc[0]),
            "groups": groups,
        }
        return Response(CostAnswerSerializer(data).data)


class _HelioxView(APIView):
    """Heliox's shapes, with exact proration instead of its whole-daily-bill-per-group figures."""

    key = ""
    row_serializer: type[serializers.Serializer]

    def get(self, request):
        fmt = _export_format(request)
        _, query = _query(CostQuerySerializer, request)
        answer = cost_analytics.cost_by(query, [self.key])
        if fmt:
            return _file(answer, fmt, f"Cost by {self.key}", f"cost-by-{self.key}-{query.start}-{query.end}")
        column = rollups.group_columns([self.key])[0]
        data = [
            {
                column: row[column],
                "total_cost_usd": cents(row["cost"]),
                "gpu_hours": round(float(row["gpu_hours"]), 4),
                "job_count": int(row["job_count"]),
            }
            for _, row in answer.iterrows()
        ]
        return Response(self.row_serializer(data, many=True).data)


class CostByModelView(_HelioxView):
    key, row_serializer = "model", ByModelRowSerializer

    @extend_schema(
        parameters=[CostQuerySerializer, ExportSerializer], responses=ByModelRowSerializer(many=True)
    )
    def get(self, request):
        return super().get(request)


class CostByTeamView(_HelioxView):
    key, row_serializer = "team", ByTeamRowSerializer

    @extend_schema(
        parameters=[CostQuerySerializer, ExportSerializer], responses=ByTeamRowSerializer(many=True)
    )
    def get(self, request):
        return super().get(request)


class TrendView(APIView):
    @extend_schema(
        parameters=[TrendQuerySerializer, ExportSerializer],
        responses=TrendAnswerSerializer,
        summary="Cost per day, week or month, optionally one series per team, model, provider or GPU type",
    )
    def get(self, request):
        fmt = _export_format(request)
        serializer, query = _query(TrendQuerySerializer, request)
        every = serializer.validated_data["period"]
        group = serializer.validated_data.get("group_by")
        answer = cost_analytics.trend(query, every, [group] if group else [])
        if fmt:
            return _file(answer, fmt, f"Cost per {every}", f"cost-per-{every}-{query.start}-{query.end}")
        group_column = rollups.group_columns([group])[0] if group else None
        points = [
            {
                "period_start": row[every].date(),
                "group": row[group_column] if group_column else None,
                **_figures(row),
            }
            for _, row in answer.iterrows()
        ]
        data = {"period": _period(query), "every": every, "group_by": group, "points": points}
        return Response(TrendAnswerSerializer(data).data)


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


def _money_or_none(value):
    return None if value is None or pd.isna(value) else cents(value)


class BudgetView(APIView):
    @extend_schema(
        parameters=[AsOfSerializer, ExportSerializer],
        responses=BudgetAnswerSerializer,
        summary="Budget burn per team this month: spent, remaining, projected month end",
    )
    def get(self, request):
        fmt = _export_format(request)
        serializer = AsOfSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        today = serializer.as_of()
        burn = cost_analytics.budget_burn(today)
        if fmt:
            return _file(burn, fmt, "Budgets", f"budgets-{today}")
        teams = [
            {
                "team_name": row.team_name,
                "budget_usd": _money_or_none(row.budget_usd),
                "spent": cents(row.spent),
                "remaining": _money_or_none(row.remaining),
                "share_used": None if pd.isna(row.share_used) else round(float(row.share_used), 4),
                "daily_mean": cents(row.daily_mean),
                "days_left": int(row.days_left),
                "projected": cents(row.projected),
                "status": row.status,
            }
            for row in burn.itertuples()
        ]
        data = {"month": f"{today:%Y-%m}", "today": today, "currency": "USD", "teams": teams}
        return Response(BudgetAnswerSerializer(data).data)


class ForecastView(APIView):
    @extend_schema(
        parameters=[AsOfSerializer, ExportSerializer],
        responses=ForecastAnswerSerializer,
        summary="Forecast cost of the next 30 days (trend + weekly seasonality, approximate 95 % band)",
    )
    def get(self, request):
        fmt = _export_format(request)
        serializer = AsOfSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = forecast_answer(serializer.as_of())
        if fmt:
            return _file(cost_exports.forecast_frame(data), fmt, "Forecast", f"forecast-{serializer.as_of()}")
        return Response(ForecastAnswerSerializer(data).data)


def forecast_answer(today) -> dict:
    """The forecast as the API, the page and exports show it (``available`` False with the reason)."""
    answer = {"label": "forecast", "method": forecast.METHOD, "history_days": 0, "total": None, "days": []}
    try:
        days, total, history = cost_analytics.cost_forecast(today)
    except forecast.NotEnoughHistory as exc:
        return {**answer, "available": False, "reason": str(exc)}
    points = [
        {
            "day": row.day.date(),
            "forecast": cents(row.forecast),
            "lower": cents(row.lower),
            "upper": cents(row.upper),
        }
        for row in days.itertuples()
    ]
    summary = {
        "start": total.start,
        "end": total.end,
        "total": cents(total.total),
        "lower": cents(total.lower),
        "upper": cents(total.upper),
    }
    return {
        **answer,
        "available": True,
        "reason": "",
        "history_days": history,
        "total": summary,
        "days": points,
    }


class RecommendationView(APIView):
    @extend_schema(
        parameters=[CostQuerySerializer, ExportSerializer],
        responses=RecommendationAnswerSerializer,
        summary="Savings advice from the tenant's own rates (estimated), largest first",
    )
    def get(self, request):
        fmt = _export_format(request)
        _, query = _query(CostQuerySerializer, request)
        advice, cut = cost_analytics.savings_advice(query)
        if fmt:
            frame = cost_exports.recommendations_frame(advice)
            return _file(frame, fmt, "Recommendations", f"recommendations-{query.start}-{query.end}")
        data = {
            "period": _period(query),
            "label": "estimated",
            "jobs_cut": cut,
            "recommendations": [
                {
                    **item.__dict__,
                    "savings_usd": _money_or_none(item.savings_usd),
                    "job_ids": list(item.job_ids),
                }
                for item in advice
            ],
        }
        return Response(RecommendationAnswerSerializer(data).data)
