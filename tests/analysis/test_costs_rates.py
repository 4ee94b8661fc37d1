"""Rate files: $/GPU-hour per (UTC day, provider, GPU type), one rate per key."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from analysis.costs.proration import job_cost
from analysis.costs.rates import RateRecord, rate_mapping, read_rates_csv
from analysis.costs.records import JobRecord, RowError

RATES_CSV = """\
Date,Provider,GPU_Type,usd_per_gpu_hour,note
2026-01-01, AWS ,A100,2.50,
2026-01-02,aws,a100,3.00,price rise
2026-01-02,aws,a100,3.10,a second rate for the same day
2026-01-03,ibm,a100,3.00,
01/04/2026,aws,a100,3.00,
2026-01-04,aws,h100,-1,
2026-01-04,aws,h100,4,
"""


def test_it_reads_rates_and_refuses_bad_or_repeated_rows():
    records = list(read_rates_csv(io.StringIO(RATES_CSV)))

    good = [r for r in records if isinstance(r, RateRecord)]
    errors = [(r.row_number, r.field) for r in records if isinstance(r, RowError)]
    assert good == [
        RateRecord(date(2026, 1, 1), "aws", "a100", Decimal("2.50")),
        RateRecord(date(2026, 1, 2), "aws", "a100", Decimal("3.00")),
        RateRecord(date(2026, 1, 4), "aws", "h100", Decimal(4)),
    ]
    assert errors == [(4, "date"), (5, "provider"), (6, "date"), (7, "usd_per_gpu_hour")]
    assert "already on line 3" in records[2].message
    assert "aws, gcp" in records[3].message


def test_heliox_daily_bill_exports_are_refused_by_the_header():
    (error,) = read_rates_csv(io.StringIO("date,provider,gpu_type,cost_usd\n2026-01-01,aws,a100,1234.56\n"))

    assert (error.row_number, error.field, error.kind) == (1, "usd_per_gpu_hour", "header")


def test_a_rate_file_prices_a_job():
    rates = rate_mapping(read_rates_csv(io.StringIO(RATES_CSV)))
    job = JobRecord(
        "job-1",
        "ml-research",
        "llama-2-7b",
        "aws",
        "a100",
        2,
        datetime(2026, 1, 1, 22, tzinfo=UTC),
        datetime(2026, 1, 2, 2, tzinfo=UTC),
        "completed",
    )

    assert job_cost(job, rates, now=datetime(2026, 2, 1, tzinfo=UTC)).total == Decimal("22.00")
