"""CSV and xlsx exports: headers, money with two decimals, dates as dates, safe text, valid sheet names."""

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree

import pandas as pd
import pytest

from analysis.costs.export import sheet_name, to_csv, to_xlsx

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
BUILT_IN_FORMATS = {0: "General", 2: "0.00", 4: "#,##0.00", 10: "0.00%"}
EXCEL_EPOCH = date(1899, 12, 30)

BY_TEAM = pd.DataFrame(
    {
        "day": pd.to_datetime(["2026-01-05", "2026-01-06"]),
        "team_name": ["ml-research", '=HYPERLINK("x")'],
        "cost": [22.000000000000004, 1234.5],
        "gpu_hours": [7.25, 0.1],
        "share_used": [0.5, None],
        "budget_usd": [Decimal("1000"), None],
        "job_ids": [("j1", "j2"), ()],
    }
)


def _xml(book, part):
    return ElementTree.fromstring(book.read(part))  # noqa: S314 -- the xlsx the test itself just wrote


def _read_xlsx(data):
    """{sheet name: {cell: (value, number format, bold)}} from the xlsx parts."""
    book = zipfile.ZipFile(io.BytesIO(data))
    shared = [
        "".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t"))
        for si in _xml(book, "xl/sharedStrings.xml").findall("m:si", NS)
    ]
    styles = _xml(book, "xl/styles.xml")
    codes = dict(BUILT_IN_FORMATS)
    codes.update({int(f.get("numFmtId")): f.get("formatCode") for f in styles.iter(f"{{{NS['m']}}}numFmt")})
    bold = [font.find("m:b", NS) is not None for font in styles.find("m:fonts", NS)]
    xfs = [(int(xf.get("numFmtId")), int(xf.get("fontId"))) for xf in styles.find("m:cellXfs", NS)]
    names = [s.get("name") for s in _xml(book, "xl/workbook.xml").iter(f"{{{NS['m']}}}sheet")]
    sheets = {}
    for number, name in enumerate(names, start=1):
        cells = {}
        for cell in _xml(book, f"xl/worksheets/sheet{number}.xml").iter(f"{{{NS['m']}}}c"):
            raw = cell.find("m:v", NS).text
            value = (
                shared[int(raw)]
                if cell.get("t") == "s"
                else raw == "1"
                if cell.get("t") == "b"
                else float(raw)
            )
            fmt, font = xfs[int(cell.get("s", 0))]
            cells[cell.get("r")] = (value, codes[fmt], bold[font])
        sheets[name] = cells
    return sheets


def test_csv_has_the_callers_headers_and_money_with_two_decimals():
    data = to_csv(
        BY_TEAM, [("day", "Day"), ("team_name", "Team"), ("cost", "Cost (USD)"), ("gpu_hours", "GPU-hours")]
    )

    assert data.decode("utf-8").splitlines() == [
        "Day,Team,Cost (USD),GPU-hours",
        "2026-01-05,ml-research,22.00,7.25",
        '2026-01-06,"\'=HYPERLINK(""x"")",1234.50,0.1',  # a formula is defused with a leading quote
    ]
    assert data.endswith(b"\r\n") and not data.startswith(b"\xef\xbb\xbf")


def test_csv_writes_missing_values_empty_lists_joined_and_timestamps_in_iso():
    frame = pd.DataFrame(
        {
            "start_time": pd.to_datetime(["2026-01-05T10:30:00Z", None], utc=True),
            "budget_usd": [Decimal("12.5"), None],
            "job_ids": [("j1", "j2"), ()],
            "jobs_started": [3, 0],
            "model_name": pd.array(["gpt-4", pd.NA], dtype="string"),
        }
    )

    rows = list(csv.reader(io.StringIO(to_csv(frame, [(c, c) for c in frame.columns]).decode())))

    assert rows[1:] == [["2026-01-05T10:30:00", "12.50", "j1; j2", "3", "gpt-4"], ["", "", "", "0", ""]]
    with pytest.raises(KeyError, match="nope"):
        to_csv(frame, [("nope", "Nope")])


def test_xlsx_has_bold_headers_money_and_shares_formatted_and_dates_as_dates():
    data = to_xlsx({"Cost by team": BY_TEAM}, headers={"cost": "Cost (USD)", "team_name": "Team"})

    cells = _read_xlsx(data)["Cost by team"]
    assert [cells[f"{c}1"] for c in "ABCDEFG"] == [
        ("day", "General", True),
        ("Team", "General", True),
        ("Cost (USD)", "General", True),
        ("gpu_hours", "General", True),
        ("share_used", "General", True),
        ("budget_usd", "General", True),
        ("job_ids", "General", True),
    ]
    assert cells["A2"] == ((date(2026, 1, 5) - EXCEL_EPOCH).days, "yyyy-mm-dd", False)
    assert cells["B3"] == ('=HYPERLINK("x")', "General", False)  # text, never a formula
    assert cells["C2"] == (22.0, "#,##0.00", False)  # a number (16 digits), shown with 2 decimals
    assert cells["C3"] == (1234.5, "#,##0.00", False)
    assert cells["D2"] == (7.25, "General", False)
    assert cells["E2"] == (0.5, "0.0%", False) and "E3" not in cells  # missing values stay blank
    assert cells["F2"] == (1000.0, "#,##0.00", False)
    assert cells["G2"] == ("j1; j2", "General", False)


def test_xlsx_timestamps_are_written_in_utc_with_their_time():
    frame = pd.DataFrame({"start_time": [datetime(2026, 1, 5, 12, 0, tzinfo=UTC).astimezone()]})

    cell = _read_xlsx(to_xlsx({"jobs": frame}))["jobs"]["A2"]

    assert cell == ((date(2026, 1, 5) - EXCEL_EPOCH).days + 0.5, "yyyy-mm-dd hh:mm:ss", False)


def test_one_sheet_per_table_with_valid_unique_names():
    tables = {
        "Budget burn [Jan]: a/b?": BY_TEAM,
        "A name far longer than thirty-one characters": BY_TEAM,
        "a name far longer than thirty-one characters!": BY_TEAM,
        "": BY_TEAM,
    }

    names = list(_read_xlsx(to_xlsx(tables)))

    assert names == [
        "Budget burn _Jan__ a_b_",
        "A name far longer than thirty-o",
        "a name far longer than thir (2)",
        "Sheet",
    ]
    assert all(len(name) <= 31 for name in names)


def test_sheet_names_refuse_reserved_and_quoted_names():
    assert sheet_name("'quoted'") == "quoted"
    assert sheet_name("History") == "History (2)"
    assert sheet_name("costs", ["COSTS", "costs (2)"]) == "costs (3)"
