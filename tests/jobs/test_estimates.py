"""POST /api/v1/worksets/estimate: from the catalogue and the rate card, then from the tenant's own runs."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from jobs.models import State, Workset
from tenants.models import RateCard

ESTIMATE = "/api/v1/worksets/estimate"


@pytest.fixture
def card(db) -> RateCard:
    """A card in force from today, so it is the one the estimate uses."""
    RateCard.objects.filter(effective_from=date.today()).delete()
    return RateCard.objects.create(
        name="Test card",
        effective_from=date.today(),
        vcpu_hour_urgent=Decimal("0.30"),
        vcpu_hour_normal=Decimal("0.10"),
        vcpu_hour_low=Decimal("0.05"),
        storage_gb_month=Decimal("0.02"),
        egress_gb_in_region=0,
        egress_gb_cross_region=0,
        egress_gb_internet=0,
        ai_per_1k_tokens=0,
    )


def spec(*coverages, pipeline="germline", **fields) -> dict:
    samples = [
        {"sample_id": f"S{n}", "fastq_r1": f"in/S{n}_R1.fq.gz", **({"coverage": c} if c else {})}
        for n, c in enumerate(coverages)
    ]
    base = {"spec_version": 1, "name": "Estimate me", "pipeline": pipeline, "reference_genome": "GRCh38"}
    return base | {"samples": samples} | fields


def estimate(api, body) -> dict:
    response = api.post(ESTIMATE, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_catalogue_estimate_matches_the_rate_card_by_hand(alice, card):
    # germline: 0.133333 vCPU-h and 1.5 GB per sample per 1x, 16 vCPUs, default 30x.
    # Samples at 40x (its own) and 30x (the pipeline's default): 70x in all, the deepest 40x.
    result = estimate(alice, spec(40, None))
    vcpu_hours = Decimal("0.133333") * 70  # 9.33331
    storage_gb = Decimal("1.5") * 70  # 105
    cost = vcpu_hours * Decimal("0.10") + storage_gb * Decimal("0.02")  # 0.933331 + 2.10
    assert result["basis"] == "from catalogue constants" and result["label"] == "estimated"
    assert Decimal(result["cost_usd"]) == Decimal("3.03") == cost.quantize(Decimal("0.01"))
    assert Decimal(result["vcpu_hours"]) == vcpu_hours
    assert Decimal(result["storage_gb"]) == storage_gb
    assert Decimal(result["duration_hours"]) == Decimal("0.3333")  # 0.133333 / 16 * 40
    inputs = result["inputs"]
    assert inputs["sample_coverages"] == ["40", "30.00"] and inputs["usd_per_vcpu_hour"] == "0.100000"
    assert inputs["rate_card"].startswith("Test card")


def test_spec_coverage_and_priority_change_the_figure(alice, card):
    result = estimate(alice, spec(None, None, coverage=35, priority="urgent"))
    vcpu_hours = Decimal("0.133333") * 70
    cost = vcpu_hours * Decimal("0.30") + Decimal("1.5") * 70 * Decimal("0.02")
    assert Decimal(result["cost_usd"]) == cost.quantize(Decimal("0.01")) == Decimal("4.90")


def completed_run(pipeline: str, coverages: list[int], vcpu_hours: str, storage_gb: str, hours: float, **kw):
    finished = timezone.now() - timedelta(days=1)
    body = spec(*coverages, pipeline=pipeline)
    return Workset.objects.create(
        name="Past run",
        spec=body,
        pipeline=pipeline,
        reference_genome="GRCh38",
        sample_count=len(coverages),
        state=kw.pop("state", State.COMPLETED),
        started_at=finished - timedelta(hours=hours),
        finished_at=finished,
        measured_vcpu_hours=Decimal(vcpu_hours),
        measured_storage_gb=Decimal(storage_gb),
        **kw,
    )


def test_after_three_completed_runs_the_estimate_is_the_median_of_the_tenants_history(alice, world, card):
    with tenant_context(world.tenant):
        completed_run("germline", [30, 30], "12", "60", 3)  # 0.2 vCPU-h/x, 1.0 GB/x, 0.1 h/x
        completed_run("germline", [30], "9", "45", 6)  # 0.3, 1.5, 0.2
        assert estimate(alice, spec(30))["basis"] == "from catalogue constants"  # two runs are too few
        with tenant_context(world.tenant):
            completed_run("germline", [30, 30, 30, 30], "12", "240", 1.5)  # 0.1, 2.0, 0.05
            completed_run("germline", [30], "90", "900", 60, state=State.FAILED)  # not completed: ignored
            completed_run("wgs", [30], "90", "900", 60)  # another pipeline: ignored
    result = estimate(alice, spec(30))
    assert result["basis"] == "from 3 past runs" and result["inputs"]["history_runs"] == 3
    assert Decimal(result["vcpu_hours"]) == Decimal("6.0")  # median 0.2 × 30
    assert Decimal(result["storage_gb"]) == Decimal("45.0")  # median 1.5 × 30
    assert Decimal(result["duration_hours"]) == Decimal("3.0")  # median 0.1 h/x × 30
    assert Decimal(result["cost_usd"]) == Decimal("6.0") * Decimal("0.10") + Decimal("45") * Decimal("0.02")


def test_the_validation_report_carries_the_same_estimate(alice, card):
    body = spec(40, None)
    report = alice.post("/api/v1/worksets/validate?dry_run=true", body, format="json").json()
    assert report["estimate"] == estimate(alice, body)


def test_an_unknown_pipeline_cannot_be_estimated(alice):
    response = alice.post(ESTIMATE, spec(30, pipeline="nope"), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["pipeline"][0].startswith("WS-CFG-002 pipeline:")


def test_a_member_of_another_tenant_gets_404(client_for, world):
    client = client_for(world.mallory, world.tenant)
    assert client.post(ESTIMATE, spec(30), content_type="application/json").status_code == 404
