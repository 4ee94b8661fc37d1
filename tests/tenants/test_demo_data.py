"""Demo data: deterministic sample inputs, and seeding a tenant's bucket, ledger and budget idempotently."""

import gzip
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tenants import demo_data
from tenants.models import Quota, UsageRecord
from tenants.storage import storage_for


def _records(fastq: bytes) -> list[list[str]]:
    lines = gzip.decompress(fastq).decode().splitlines()
    assert len(lines) % 4 == 0
    return [lines[i : i + 4] for i in range(0, len(lines), 4)]


def test_fastq_pairs_are_deterministic_well_formed_and_paired():
    r1, r2 = demo_data.fastq_pair("HG003")
    assert (r1, r2) == demo_data.fastq_pair("HG003")
    assert r1 != demo_data.fastq_pair("HG004")[0]
    first, second = _records(r1), _records(r2)
    assert len(first) == len(second) == demo_data.READS_PER_FILE
    for (h1, seq, plus, qual), (h2, *_rest) in zip(first, second, strict=True):
        assert h1.startswith("@LH00123:42:22FLTXLT3:1:") and h1.endswith(" 1:N:0:GATCGATC+CTAGCTAG")
        assert h1.split()[0] == h2.split()[0] and h2.split()[1].startswith("2:N:0:")
        assert len(seq) == len(qual) == 150 and set(seq) <= set("ACGT") and plus == "+"
        assert set(qual) <= set("F:,#")


def test_the_sample_sheet_has_20_columns_pointing_at_the_fastqs():
    sheet = demo_data.sample_sheet(lambda key: f"s3://bucket/{key}")
    rows = [line.split("\t") for line in sheet.splitlines()]
    assert rows[0] == list(demo_data.SAMPLE_SHEET_COLUMNS) and len(rows[0]) == 20
    assert [row[1] for row in rows[1:]] == ["HG002", "HG003", "HG004"]
    for row in rows[1:]:
        record = dict(zip(rows[0], row, strict=True))
        r1, r2 = demo_data.fastq_keys(record["SAMPLE_ID"])
        assert (record["R1_FQ"], record["R2_FQ"]) == (f"s3://bucket/{r1}", f"s3://bucket/{r2}")


def test_demo_usage_depends_only_on_the_day():
    day = date(2025, 3, 4)
    assert demo_data.demo_usage(day) == demo_data.demo_usage(day)
    assert all(item.quantity >= 0 for item in demo_data.demo_usage(day))


@pytest.mark.django_db
def test_seeding_fills_bucket_ledger_and_budget_and_a_rerun_changes_nothing(world, s3_server):
    from tenants.services.demo import DAYS, seed_demo_data
    from tests.builders import make_tenant

    tenant = make_tenant("demo-seed")
    today = date(2025, 3, 15)
    seed = seed_demo_data(tenant, actor=None, today=today)
    assert seed.files_uploaded == seed.files_total == 7
    storage = storage_for(seed.bucket)
    sheet = b"".join(storage.download(demo_data.SAMPLE_SHEET_KEY)).decode()
    assert f"s3://{seed.bucket.name}/inputs/HG002/HG002_S1_L001_R1_001.fastq.gz" in sheet
    listing = storage.list("inputs/")
    assert listing.folders == ["inputs/HG002/", "inputs/HG003/", "inputs/HG004/"]
    seed.bucket.refresh_from_db()
    assert seed.bucket.object_count == 7 and seed.bucket.bytes_used > 150_000
    _the_sheet_makes_a_valid_workset(tenant, sheet)

    records = UsageRecord.objects.filter(tenant=tenant)
    storage_days = records.filter(kind="storage_gb_days")
    assert storage_days.count() == DAYS + 1
    assert storage_days.filter(period_start__date=today - timedelta(days=DAYS)).exists()
    assert records.filter(source="demo", basis="estimated", period_start__date=today).exists()
    assert records.exclude(kind="storage_gb_days").filter(source="demo").count() >= 5 * (DAYS + 1)
    quota = Quota.objects.get(tenant=tenant)
    assert quota.monthly_budget_usd == Decimal("250.00")

    before = sorted(records.values_list("kind", "dimension", "period_start", "quantity", "basis"))
    again = seed_demo_data(tenant, actor=None, today=today)
    assert again.files_uploaded == 0
    assert sorted(records.values_list("kind", "dimension", "period_start", "quantity", "basis")) == before


@pytest.mark.django_db
def test_an_operators_budget_is_kept(world, s3_server):
    from tenants.services.demo import ensure_demo_budget
    from tests.builders import make_tenant

    tenant = make_tenant("demo-budget")
    Quota.objects.filter(tenant=tenant).update(monthly_budget_usd=Decimal("40"))
    ensure_demo_budget(tenant, actor=None)
    assert Quota.objects.get(tenant=tenant).monthly_budget_usd == Decimal("40.00")


@pytest.mark.django_db
def test_demo_worksets_come_in_different_states_and_a_rerun_adds_none(world, s3_server):
    from django_tenants.utils import tenant_context

    from jobs.demo import DEMO_WORKSETS, QC_WORKSET, seed_demo_worksets
    from jobs.models import Workset
    from tenants.services.demo import seed_demo_data
    from tests.builders import make_tenant

    tenant = make_tenant("demo-worksets")
    seed_demo_data(tenant, actor=None, today=date(2025, 3, 15))
    with tenant_context(tenant):
        assert seed_demo_worksets(tenant) == len(DEMO_WORKSETS) + 1
        states = set(Workset.objects.values_list("state", flat=True))
        assert {"queued", "completed", "failed", "cancelled", "archived", "validated"} <= states
        assert Workset.objects.get(name=QC_WORKSET.name).state == "validated"  # alice submits it
        completed = Workset.objects.filter(state="completed", measured_vcpu_hours__isnull=False)
        assert completed.count() == 3 and all(w.finished_at > w.started_at for w in completed)
        assert Workset.objects.get(state="archived").archived_from == "completed"
        from jobs.estimates import estimate_workset

        spec = Workset.objects.get(state="queued").spec
        assert estimate_workset(spec).basis == "from 3 past runs"  # the demo's completed germline runs
        assert seed_demo_worksets(tenant) == 0
        assert Workset.objects.count() == len(DEMO_WORKSETS) + 1


def _the_sheet_makes_a_valid_workset(tenant, sheet: str) -> None:
    """The seeded sample sheet imports as a workset whose FASTQs are all found in the bucket."""
    from django_tenants.utils import tenant_context

    from jobs.generator import parse
    from jobs.validation import validate_workset

    fields = {"name": "Demo trio", "reference_genome": "GRCh38", "pipeline": "germline"}
    spec = parse(tenant, sheet, format="stage_samples_tsv", fields=fields).spec
    assert [sample["sample_id"] for sample in spec["samples"]] == ["HG002", "HG003", "HG004"]
    with tenant_context(tenant):
        report = validate_workset(tenant, spec)
    assert report.valid, [str(problem) for problem in report.problems]
