"""What a workset will cost and take, before it runs: USD, hours, vCPU-hours and GB of results.

Two bases, and the estimate always says which one it used:

- **catalogue constants** (a new tenant, or a pipeline it has not run enough): per sample and per 1× of
  coverage, the pipeline's ``vcpu_hours_per_x`` and ``storage_gb_per_x``; a sample's wall-clock hours are
  its vCPU-hours over ``vcpus_per_sample``;
- **the tenant's own history** (at least ``MIN_HISTORY_RUNS`` completed worksets of the pipeline with a
  measured vCPU-hours figure, the latest ``HISTORY_WINDOW`` of them): the median over those runs of
  vCPU-hours per sample-×, GB per sample-×, and hours per × of the run's deepest sample.

Samples run side by side, so the workset takes as long as its deepest sample. A sample's coverage is its
own, else the spec's, else the pipeline's default. Cost = vCPU-hours × the rate card's price for the
priority + GB × one month of storage, from the card in force today. Every input is in ``inputs`` so the
figure can be recomputed by hand; figures are exact Decimals, money rounded to cents and hours to
0.0001.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from django.utils import timezone

from jobs.catalog.models import Pipeline
from jobs.models import State, Workset
from tenants.models import RateCard

MIN_HISTORY_RUNS = 3
HISTORY_WINDOW = 50
CENT = Decimal("0.01")
FIGURE = Decimal("0.0001")


@dataclass(frozen=True)
class Rates:
    """Per sample and per 1× of coverage, except hours: per 1× of the deepest sample."""

    vcpu_hours_per_x: Decimal
    storage_gb_per_x: Decimal
    hours_per_x: Decimal
    basis: str
    runs: int = 0


@dataclass(frozen=True)
class Estimate:
    cost_usd: Decimal | None
    duration_hours: Decimal
    vcpu_hours: Decimal
    storage_gb: Decimal
    basis: str
    inputs: dict = field(default_factory=dict)
    label: str = "estimated"

    def as_dict(self) -> dict:
        """JSON-ready: Decimals as strings, so nothing is lost on the way to a JSONField."""
        return {
            "label": self.label,
            "basis": self.basis,
            "cost_usd": _text(self.cost_usd),
            "duration_hours": _text(self.duration_hours),
            "vcpu_hours": _text(self.vcpu_hours),
            "storage_gb": _text(self.storage_gb),
            "inputs": self.inputs,
        }


def estimate_workset(spec: dict, *, pipeline: Pipeline | None = None, today: date | None = None) -> Estimate:
    """The estimate of a canonical spec (defaults filled in), in the current tenant's schema."""
    pipeline = pipeline or Pipeline.objects.get(code=spec["pipeline"])
    coverages = sample_coverages(spec, pipeline)
    rates = history_rates(pipeline) or catalogue_rates(pipeline)
    total_x, deepest = sum(coverages, Decimal(0)), max(coverages)
    vcpu_hours = rates.vcpu_hours_per_x * total_x
    storage_gb = rates.storage_gb_per_x * total_x
    duration = rates.hours_per_x * deepest
    priority = spec.get("priority") or "normal"
    card = RateCard.in_force(today or timezone.now().date())
    cost, prices = _cost(card, priority, vcpu_hours, storage_gb)
    inputs = {
        "pipeline": pipeline.code,
        "priority": priority,
        "samples": len(coverages),
        "sample_coverages": [_text(c) for c in coverages],
        "total_coverage_x": _text(total_x),
        "deepest_coverage_x": _text(deepest),
        "vcpu_hours_per_sample_x": _text(rates.vcpu_hours_per_x),
        "storage_gb_per_sample_x": _text(rates.storage_gb_per_x),
        "hours_per_x": _text(rates.hours_per_x),
        "history_runs": rates.runs,
        **prices,
    }
    return Estimate(
        cost_usd=cost,
        duration_hours=duration.quantize(FIGURE, ROUND_HALF_UP),
        vcpu_hours=vcpu_hours,
        storage_gb=storage_gb,
        basis=rates.basis,
        inputs=inputs,
    )


def sample_coverages(spec: dict, pipeline: Pipeline) -> list[Decimal]:
    default = _decimal(spec.get("coverage")) or pipeline.default_coverage
    return [_decimal(sample.get("coverage")) or default for sample in spec["samples"]]


def catalogue_rates(pipeline: Pipeline) -> Rates:
    return Rates(
        vcpu_hours_per_x=pipeline.vcpu_hours_per_x,
        storage_gb_per_x=pipeline.storage_gb_per_x,
        hours_per_x=pipeline.vcpu_hours_per_x / pipeline.vcpus_per_sample,
        basis="from catalogue constants",
    )


def history_rates(pipeline: Pipeline) -> Rates | None:
    """Medians over the tenant's latest completed runs of ``pipeline``; None while there are too few."""
    runs = list(
        Workset.objects.filter(
            pipeline=pipeline.code, state=State.COMPLETED, measured_vcpu_hours__isnull=False
        ).order_by("-finished_at", "-id")[:HISTORY_WINDOW]
    )
    if len(runs) < MIN_HISTORY_RUNS:
        return None
    catalogue = catalogue_rates(pipeline)
    per_run = [_run_rates(run, pipeline) for run in runs]
    per_run = [rates for rates in per_run if rates is not None]
    if len(per_run) < MIN_HISTORY_RUNS:
        return None
    storage = [r["storage"] for r in per_run if r["storage"] is not None]
    hours = [r["hours"] for r in per_run if r["hours"] is not None]
    return Rates(
        vcpu_hours_per_x=_median([r["vcpu"] for r in per_run]),
        storage_gb_per_x=_median(storage) if storage else catalogue.storage_gb_per_x,
        hours_per_x=_median(hours) if hours else catalogue.hours_per_x,
        basis=f"from {len(per_run)} past run{'s' if len(per_run) != 1 else ''}",
        runs=len(per_run),
    )


def _run_rates(run: Workset, pipeline: Pipeline) -> dict | None:
    if (
        not isinstance(run.spec, dict)
        or not isinstance(run.spec.get("samples"), list)
        or not run.spec["samples"]
    ):
        return None
    coverages = sample_coverages(run.spec, pipeline)
    total_x, deepest = sum(coverages, Decimal(0)), max(coverages)
    hours = None
    if run.started_at and run.finished_at and run.finished_at > run.started_at:
        seconds = Decimal((run.finished_at - run.started_at).total_seconds())
        hours = seconds / 3600 / deepest
    storage = run.measured_storage_gb / total_x if run.measured_storage_gb is not None else None
    return {"vcpu": run.measured_vcpu_hours / total_x, "storage": storage, "hours": hours}


def _cost(card: RateCard | None, priority: str, vcpu_hours: Decimal, storage_gb: Decimal):
    if card is None:
        return None, {"rate_card": None}
    vcpu_price = getattr(card, f"vcpu_hour_{priority}")
    cost = (vcpu_hours * vcpu_price + storage_gb * card.storage_gb_month).quantize(CENT, ROUND_HALF_UP)
    prices = {
        "rate_card": f"{card.name} (from {card.effective_from})",
        "usd_per_vcpu_hour": _text(vcpu_price),
        "usd_per_gb_month": _text(card.storage_gb_month),
        "storage_months": "1",
    }
    return cost, prices


def _median(values: list[Decimal]) -> Decimal:
    return Decimal(median(values)).quantize(Decimal("0.000001"), ROUND_HALF_UP)


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
