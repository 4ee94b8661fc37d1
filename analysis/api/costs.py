"""``/api/v1/analytics/cost…``: what the tenant's GPU jobs cost, by any grouping, over a period.

Every member may read. Figures are US dollars prorated per UTC day at the tenant's own rates
(``analysis.costs.proration``); ``provisional_cost`` is the part from jobs still running, and
``unpriced_gpu_hours`` the GPU-hours of days with no rate (never priced as $0).
"""

from __future__ import annotations

import pandas as pd
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import cost_analytics, cost_answers, cost_exports
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
from analysis.costs import rollups
from analysis.costs.export import cents


def or_export(answer) -> dict:
    """The JSON answer, or with ``export`` the same figures as a CSV or XLSX attachment."""
    files = {
        (200, cost_exports.CONTENT_TYPES[fmt].split(";")[0]): OpenApiTypes.BINARY
        for fmt in cost_exports.FORMATS
    }
    return {(200, "application/json"): answer, **files}


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


class CostView(APIView):
    @extend_schema(
        parameters=[GroupedQuerySerializer, ExportSerializer],
        responses=or_export(CostAnswerSerializer),
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
        data = cost_answers.cost_answer(query, group_by, answer)
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
        parameters=[CostQuerySerializer, ExportSerializer],
        responses=or_export(ByModelRowSerializer(many=True)),
    )
    def get(self, request):
        return super().get(request)


class CostByTeamView(_HelioxView):
    key, row_serializer = "team", ByTeamRowSerializer

    @extend_schema(
        parameters=[CostQuerySerializer, ExportSerializer],
        responses=or_export(ByTeamRowSerializer(many=True)),
    )
    def get(self, request):
        return super().get(request)


class TrendView(APIView):
    @extend_schema(
        parameters=[TrendQuerySerializer, ExportSerializer],
        responses=or_export(TrendAnswerSerializer),
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
                **cost_answers.figures(row),
            }
            for _, row in answer.iterrows()
        ]
        data = {"period": cost_answers.period(query), "every": every, "group_by": group, "points": points}
        return Response(TrendAnswerSerializer(data).data)


class BudgetView(APIView):
    @extend_schema(
        parameters=[AsOfSerializer, ExportSerializer],
        responses=or_export(BudgetAnswerSerializer),
        summary="Budget burn per team this month: spent, remaining, projected month end",
    )
    def get(self, request):
        fmt = _export_format(request)
        serializer = AsOfSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        today = serializer.as_of()
        if fmt:
            return _file(cost_analytics.budget_burn(today), fmt, "Budgets", f"budgets-{today}")
        data = cost_answers.budget_answer(today)
        return Response(BudgetAnswerSerializer(data).data)


class ForecastView(APIView):
    @extend_schema(
        parameters=[AsOfSerializer, ExportSerializer],
        responses=or_export(ForecastAnswerSerializer),
        summary="Forecast cost of the next 30 days (trend + weekly seasonality, approximate 95 % band)",
    )
    def get(self, request):
        fmt = _export_format(request)
        serializer = AsOfSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = cost_answers.forecast_answer(serializer.as_of())
        if fmt:
            return _file(cost_exports.forecast_frame(data), fmt, "Forecast", f"forecast-{serializer.as_of()}")
        return Response(ForecastAnswerSerializer(data).data)


class RecommendationView(APIView):
    @extend_schema(
        parameters=[CostQuerySerializer, ExportSerializer],
        responses=or_export(RecommendationAnswerSerializer),
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
            "period": cost_answers.period(query),
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
