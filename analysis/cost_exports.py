"""The cost tables as downloads: what the dashboard and the API send for ``export=csv|xlsx``.

Money is rounded to cents half up first (``cents``, as the API and the pages show it), so a file
carries the figures the screen shows; ``analysis.costs.export`` writes the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from django.http import HttpResponse

from analysis.costs import export

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
HEADERS = {
    "team_name": "Team",
    "model_name": "Model",
    "provider": "Provider",
    "gpu_type": "GPU type",
    "day": "Day",
    "week": "Week (Monday)",
    "month": "Month",
    "period_start": "Period start",
    "cost": "Cost (USD)",
    "gpu_hours": "GPU-hours",
    "job_count": "Jobs started",
    "unpriced_gpu_hours": "Unpriced GPU-hours",
    "provisional_cost": "Provisional cost (USD)",
    "budget_usd": "Monthly budget (USD)",
    "spent": "Spent this month (USD)",
    "remaining": "Remaining (USD)",
    "share_used": "Share used",
    "daily_mean": "Daily mean, last 7 days (USD)",
    "days_left": "Days left",
    "projected": "Projected month end (USD)",
    "status": "Status",
    "forecast": "Forecast (USD)",
    "lower": "Lower bound (USD)",
    "upper": "Upper bound (USD)",
    "kind": "Kind",
    "severity": "Severity",
    "title": "Advice",
    "reason": "Reason",
    "savings_usd": "Estimated savings (USD)",
    "at_stake_usd": "At stake (USD)",
    "job_ids": "Job ids",
    "job_id": "Job id",
    "gpu_count": "GPUs",
    "start_time": "Start (UTC)",
    "end_time": "End (UTC)",
    "provisional": "Provisional",
}


def cents(value):
    """Half-up cents (``analysis.costs.export.cents``), None and NaN kept missing."""
    return None if value is None or pd.isna(value) else export.cents(float(value))


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its money columns in cents, as the screen shows them."""
    money = [column for column in frame.columns if export.is_money(str(column))]
    return frame.assign(**{column: frame[column].map(cents).astype("object") for column in money})


def _columns(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return [(str(column), HEADERS.get(str(column), str(column))) for column in frame.columns]


def attachment(sheets: Mapping[str, pd.DataFrame], fmt: str, filename: str) -> HttpResponse:
    """One table as CSV, or every table as sheets of one workbook, sent as ``filename.<fmt>``."""
    if fmt == "csv":
        (frame,) = sheets.values()
        body = export.to_csv(rounded(frame), _columns(frame))
    else:
        body = export.to_xlsx({name: rounded(frame) for name, frame in sheets.items()}, headers=HEADERS)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def recommendations_frame(advice) -> pd.DataFrame:
    """Savings advice as a table: estimated savings, or the cost at stake for long-running jobs."""
    rows = [
        {
            "severity": item.severity,
            "kind": item.kind,
            "team_name": item.team_name,
            "title": item.title,
            "savings_usd": item.savings_usd,
            "at_stake_usd": at_stake(item),
            "job_ids": list(item.job_ids),
            "reason": item.reason,
        }
        for item in advice
    ]
    columns = ["severity", "kind", "team_name", "title", "savings_usd", "at_stake_usd", "job_ids", "reason"]
    return pd.DataFrame(rows, columns=columns)


def at_stake(item) -> float | None:
    """What a long-running job costs beyond its first 24 h: at stake, not a certain saving."""
    if item.savings_usd is not None:
        return None
    return item.evidence.get("cost_beyond_24h_usd")


def forecast_frame(answer: dict) -> pd.DataFrame:
    """``forecast_answer``'s days as a table (empty when there is no forecast)."""
    frame = pd.DataFrame(answer["days"], columns=["day", "forecast", "lower", "upper"])
    return frame.assign(day=pd.to_datetime(frame["day"]))
