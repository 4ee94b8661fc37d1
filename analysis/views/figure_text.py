"""How an insight's figures read on a page: the value as text, its kind, and a tooltip with the formula.

The pages print what ``analysis.insights`` computed (its ``as_dict()``), never a number of their own:
this module only formats. A figure is any dict with ``value``, ``kind``, ``formula`` and ``unit``.
"""

from __future__ import annotations

from typing import Any

FIGURE_KEYS = {"value", "kind", "formula", "unit"}
PERCENT_UNITS = {"share", "ratio"}


def is_figure(item: Any) -> bool:
    return isinstance(item, dict) and item.keys() >= FIGURE_KEYS


def figure_text(figure: dict) -> str:
    value, unit = figure.get("value"), figure.get("unit") or "count"
    if value is None:
        return "—"
    if unit == "share points":
        return f"{value * 100:+.1f} pts"
    if unit in PERCENT_UNITS:
        return f"{value * 100:.2f} %" if abs(value) < 0.001 and value else f"{value * 100:.1f} %"
    if unit == "per 1000 instructions":
        return f"{value:.1f}"
    if unit == "cycles per instruction":
        return f"{value:.2f}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def figure_title(figure: dict) -> str:
    parts = [figure.get("formula") or ""]
    top, bottom = figure.get("numerator"), figure.get("denominator")
    if top is not None and bottom is not None:
        parts.append(f"= {top:,} / {bottom:,}")
    if figure.get("note"):
        parts.append(f"({figure['note']})")
    return " ".join(part for part in parts if part)


def readable(item: Any) -> Any:
    """A copy of an ``as_dict()`` answer where every figure also has ``text`` and ``title``."""
    if is_figure(item):
        return {
            **item,
            "text": figure_text(item),
            "title": figure_title(item),
            "measured": item["value"] is not None,
        }
    if isinstance(item, dict):
        return {key: readable(value) for key, value in item.items()}
    if isinstance(item, list):
        return [readable(value) for value in item]
    return item
