"""Demo worksets for ``runyard demo``: a few of acme's worksets in different states, over the demo FASTQs,
and a FASTQ QC workset ready for alice to submit, which the demo's local cluster really runs.

The history worksets are submitted through ``jobs.services`` like any other, then moved along legal
transitions by the system (actor None) to give the estimates a history; their pipelines (germline, somatic,
rnaseq) do not run here, and the demo cluster says so: it runs only the pipelines this machine can run.
Idempotent: a demo workset already there (by name) is kept.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from jobs.catalog.models import Cluster
from jobs.execution import failure_fields
from jobs.models import State, Workset
from jobs.services import create_workset
from tenants import demo_data
from tenants.models import Tenant

RUN = [State.DISPATCHED, State.RUNNING]


@dataclass(frozen=True)
class DemoWorkset:
    name: str
    samples: tuple[str, ...]
    pipeline: str
    steps: tuple[str, ...]
    vcpu_hours_per_sample: Decimal | None = None
    failed_step: str = ""
    log: str = ""  # the failed step's log, diagnosed by the catalogue as a real failure is


# The end of a Mutect2 log whose JVM ran out of heap: what a somatic run that failed leaves behind.
SOMATIC_LOG = """\
[call_variants] gatk --java-options -Xmx4g Mutect2 -R GRCh38.fa -I HG002.bam -O HG002.somatic.vcf.gz
12:41:07.512 INFO  ProgressMeter -        chr1:148201551            182.4              41255000         3768.5
12:44:19.006 INFO  ProgressMeter -        chr1:152980233            185.6              41983000         3771.9
Exception in thread "main" java.lang.OutOfMemoryError: Java heap space
	at java.base/java.util.Arrays.copyOf(Arrays.java:3537)
	at org.broadinstitute.hellbender.tools.walkers.mutect.Mutect2Engine.callRegion(Mutect2Engine.java:263)
"""


DEMO_WORKSETS = (
    DemoWorkset("GIAB trio germline", demo_data.SAMPLES, "germline", ()),
    DemoWorkset("HG002 germline pilot", ("HG002",), "germline", (*RUN, State.COMPLETED), Decimal("118.5")),
    DemoWorkset("HG003 germline", ("HG003",), "germline", (*RUN, State.COMPLETED), Decimal("124.25")),
    DemoWorkset("HG004 germline", ("HG004",), "germline", (*RUN, State.COMPLETED), Decimal("121.0")),
    DemoWorkset(
        "HG002 somatic",
        ("HG002",),
        "somatic",
        (*RUN, State.FAILED),
        failed_step="call_variants",
        log=SOMATIC_LOG,
    ),
    DemoWorkset("HG003 rnaseq", ("HG003",), "rnaseq", (State.CANCELLED,)),
    DemoWorkset("Trio test help", demo_data.SAMPLES, "test_help", (*RUN, State.COMPLETED, State.ARCHIVED)),
)


QC_WORKSET = DemoWorkset("GIAB trio QC", demo_data.SAMPLES, "fastq_qc", ())
DEMO_CLUSTER = "demo-local"
RUNNABLE_HERE = ["fastq_qc", "test_help", "test_fail"]  # what jobs.pipelines runs on the local backend


def seed_demo_worksets(tenant: Tenant) -> int:
    """Create the demo worksets that are missing (run in the tenant's schema); return how many were made.
    The QC workset is validated, not submitted: submitting it is alice's part of the demo."""
    made = 0
    for demo in DEMO_WORKSETS:
        if not Workset.objects.filter(name=demo.name).exists():
            _make(tenant, demo)
            made += 1
    if not Workset.objects.filter(name=QC_WORKSET.name).exists():
        create_workset(tenant, _spec(QC_WORKSET), actor=None, submit=False)
        made += 1
    return made


def ensure_demo_cluster() -> Cluster:
    """The cluster the demo's worker runs worksets on: local subprocesses, for the pipelines that run here.
    Registered after the history is seeded, so the dispatcher never picks up a history workset."""
    cluster, _ = Cluster.objects.get_or_create(
        name=DEMO_CLUSTER,
        defaults={
            "backend": Cluster.Backend.LOCAL,
            "region": "local",
            "usd_per_vcpu_hour": Decimal("0.048"),
            "capacity": 2,
            "pipelines": RUNNABLE_HERE,
        },
    )
    return cluster


def _spec(demo: DemoWorkset) -> dict:
    samples = []
    for sample in demo.samples:
        r1, r2 = demo_data.fastq_keys(sample)
        samples.append({"sample_id": sample, "fastq_r1": r1, "fastq_r2": r2})
    return {
        "spec_version": 1,
        "name": demo.name,
        "pipeline": demo.pipeline,
        "reference_genome": "GRCh38",
        "samples": samples,
    }


def _make(tenant: Tenant, demo: DemoWorkset) -> Workset:
    workset = create_workset(tenant, _spec(demo), actor=None)
    if workset.state != State.QUEUED:  # e.g. held by the budget: leave it where the rules put it
        return workset
    began = timezone.now() - timedelta(hours=6)
    for step in demo.steps:
        workset.transition_to(step, **{"reason": "Demo data", **_fields(step, demo, began)})
    return workset


def _fields(step: str, demo: DemoWorkset, began) -> dict:
    if step == State.RUNNING:
        return {"started_at": began}
    if step in (State.COMPLETED, State.FAILED):
        fields = {"finished_at": began + timedelta(hours=4)}
        if step == State.FAILED and demo.log:
            fields |= failure_fields(demo.failed_step, demo.log)[1]
        if step == State.COMPLETED and demo.vcpu_hours_per_sample is not None:
            count = len(demo.samples)
            fields["measured_vcpu_hours"] = demo.vcpu_hours_per_sample * count
            fields["measured_storage_gb"] = Decimal("44.5") * count
        return fields
    return {}
