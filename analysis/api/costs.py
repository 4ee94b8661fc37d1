"""``/api/v1/analytics/cost…``: what the tenant's GPU jobs cost, by any grouping, over a period.

Every member may read. Figures are US dollars prorated per UTC day at the tenant's own rates
(``analysis.costs.proration``); ``provisional_cost`` is the part from jobs still running, and
``unpriced_gpu_hours`` the GPU-hours of days with no rate (never priced as $0).
"""

from __future__ import annotations

import pandas as pd
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import cost_analytics, cost_exports
from analysis.api.cost_serializers import (
    AsOfSerializer,
    BudgetAnswerSerializer,
    ByModelRowSerializer,
    ByTeamRowSerializer,
    CostAnswerSerializer,
    CostQuerySerializer,
    ExportSerializer,
    ForecastAnswerSerializer,
    GroupedQuerySerializer,
    RecommendationAnswerSerializer,
    TrendAnswerSerializer,
    TrendQuerySerializer,
)
from analysis.costs import forecast, rollups
from analysis.costs.export import cents


def _export_format(request) -> str | None:
    """The asked file format, checked before any figure is computed (400 naming ``export``)."""
    serializer = ExportSerializer(
        data={"export": request.query_params["export"]} if "export" in request.query_params else {}
    )
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data.get("export")


def _file(frame: pd.DataFrame, fmt: str, name: str, stem: str):
    return cost_exports.attachment({name: frame}, fmt, stem)


def _query(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer, serializer.query()


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


def cost_answer(query, group_by: list[str], answer: pd.DataFrame | None = None) -> dict:
    """Cost per group as the API and the chat show it: each group's keys and figures, most expensive
    first, and their total (``answer``: ``cost_analytics.cost_by`` already read, if the caller has it)."""
    answer = cost_analytics.cost_by(query, group_by) if answer is None else answer
    columns = rollups.group_columns(group_by)
    groups = [
        {
            "group": {key: _label(row[col]) for key, col in zip(group_by, columns, strict=True)},
            **_figures(row),
        }
        for _, row in answer.iterrows()
    ]
    total = rollups.cost_by(answer.rename(columns={"job_count": "jobs_started"}), [])
    return {
        "period": _period(query),
        "currency": "USD",
        "group_by": group_by,
        "source": "jobs" if query.needs_raw else "rollups",
        "total": _figures(total.iloc[0]),
        "groups": groups,
    }


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
        data = cost_answer(query, group_by, answer)
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
        if fmt:
            return _file(cost_analytics.budget_burn(today), fmt, "Budgets", f"budgets-{today}")
        data = budget_answer(today)
        return Response(BudgetAnswerSerializer(data).data)


def budget_answer(today) -> dict:
    """Budget burn as the API, the chat and the pages show it: money in cents, shares to 4 places."""
    teams = [
        {
            "team_name": row.team_name,
            "budget_usd": cost_exports.cents(row.budget_usd),
            "spent": cents(row.spent),
            "remaining": cost_exports.cents(row.remaining),
            "share_used": None if pd.isna(row.share_used) else round(float(row.share_used), 4),
            "daily_mean": cents(row.daily_mean),
            "days_left": int(row.days_left),
            "projected": cents(row.projected),
            "status": row.status,
        }
        for row in cost_analytics.budget_burn(today).itertuples()
    ]
    return {"month": f"{today:%Y-%m}", "today": today, "currency": "USD", "teams": teams}


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
                    "savings_usd": cost_exports.cents(item.savings_usd),
                    "job_ids": list(item.job_ids),
                }
                for item in advice
            ],
        }
        return Response(RecommendationAnswerSerializer(data).data)
