"""Periods named in a question ("last week", "in March", "2026-03-01 to 2026-03-15") as date ranges.

Weeks run Monday to Sunday and every range is inclusive, like the cost rollups' ``start``/``end``. Relative
periods are taken against ``today`` passed in, never the clock, so answers are reproducible and testable.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
ISO = r"\d{4}-\d{2}-\d{2}"
# "may" alone is a verb far more often than a month, so it only counts after "in"/"for"/"during"/"of"
MONTH_WORD = "|".join(sorted((m for m in MONTHS if m != "may"), key=len, reverse=True))


@dataclass(frozen=True)
class Period:
    """An inclusive range of days and where the question said it (so the words are not read twice)."""

    start: date
    end: date
    span: tuple[int, int]

    @property
    def month(self) -> str | None:
        """``YYYY-MM`` when the range is one calendar month (what usage and invoices are kept by)."""
        same = (self.start.year, self.start.month) == (self.end.year, self.end.month)
        return f"{self.start:%Y-%m}" if same and self.start.day == 1 else None


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _last_week(today: date, _match) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday() + 7)
    return monday, monday + timedelta(days=6)


def _this_week(today: date, _match) -> tuple[date, date]:
    return today - timedelta(days=today.weekday()), today


def _last_days(today: date, match) -> tuple[date, date]:
    """The N days ending today, today included."""
    return today - timedelta(days=int(match["n"]) - 1), today


def _last_month(today: date, _match) -> tuple[date, date]:
    previous = today.replace(day=1) - timedelta(days=1)
    return _month_range(previous.year, previous.month)


def _named_month(today: date, match) -> tuple[date, date]:
    """A month without a year is the most recent one that has begun (March in November is this March)."""
    month = MONTHS[match["m"].lower()]
    year = int(match["y"]) if match["y"] else today.year - (month > today.month)
    return _month_range(year, month)


def _iso_month(_today: date, match) -> tuple[date, date]:
    return _month_range(int(match["y"]), int(match["mo"]))


def _between(_today: date, match) -> tuple[date, date]:
    first, second = sorted((date.fromisoformat(match["a"]), date.fromisoformat(match["b"])))
    return first, second


def _since(today: date, match) -> tuple[date, date]:
    return date.fromisoformat(match["a"]), today


def _one_day(_today: date, match) -> tuple[date, date]:
    day = date.fromisoformat(match["a"])
    return day, day


RULES = (
    (rf"\b(?:from|between)?\s*(?P<a>{ISO})\s*(?:to|until|and|through|-|–|\.\.)\s*(?P<b>{ISO})\b", _between),
    (rf"\b(?:since|after|from)\s+(?P<a>{ISO})\b", _since),
    (rf"\b(?P<a>{ISO})\b", _one_day),
    (r"\b(?P<y>\d{4})-(?P<mo>0[1-9]|1[0-2])\b", _iso_month),
    (r"\b(?:last|previous|past)\s+week\b", _last_week),
    (r"\bthis\s+week\b", _this_week),
    (r"\b(?:last|past|previous)\s+(?P<n>[1-9]\d{0,2})\s+days?\b", _last_days),
    (r"\b(?:last|previous|past)\s+month\b", _last_month),
    (r"\bthis\s+month\b", lambda today, _m: (today.replace(day=1), today)),
    (r"\byesterday\b", lambda today, _m: (today - timedelta(days=1),) * 2),
    (r"\btoday\b", lambda today, _m: (today, today)),
    (r"\bthis\s+year\b", lambda today, _m: (date(today.year, 1, 1), today)),
    (rf"\b(?:in|for|during|of)\s+(?P<m>{MONTH_WORD}|may)\b(?:\s+(?P<y>\d{{4}}))?", _named_month),
    (rf"\b(?P<m>{MONTH_WORD})\b(?:\s+(?P<y>\d{{4}}))?", _named_month),
)


def impossible_dates(text: str) -> list[str]:
    """Dates written in ISO form that no calendar has (2026-02-30): worth saying rather than half-reading."""
    bad = []
    for written in re.findall(rf"\b{ISO}\b", text):
        try:
            date.fromisoformat(written)
        except ValueError:
            bad.append(written)
    return bad


def find_period(text: str, today: date) -> Period | None:
    """The first period the text names, trying the most specific wordings first."""
    for pattern, dates in RULES:
        for match in re.finditer(pattern, text, flags=re.IGNORECASE):
            try:
                start, end = dates(today, match)
            except ValueError:  # 2026-02-30: not a day, so not a period; a later wording may still be one
                continue
            return Period(start, end, match.span())
    return None
