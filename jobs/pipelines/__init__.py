"""The pipelines the ``local`` backend runs for real, as programs (``python -m jobs.pipelines.<name>``), and
``plan_for(pipeline)``, the ordered steps of each. No Django.

Every step runs in the run's ``work/`` directory, where ``spec.json`` (the workset's spec) is, and where the
staging code put the inputs (``inputs/samples.json`` lists each sample's local FASTQ paths). Results go under
``results/``, which publishing uploads to ``results/<workset code>/`` in the tenant's bucket.
"""

from __future__ import annotations

import sys

from jobs.backends.base import PipelinePlan, Step

MANIFEST = "inputs/samples.json"
RESULTS = "results"


class UnknownPipeline(LookupError):
    pass


def plan_for(pipeline: str, *, python: str | None = None, sleep_seconds: float | None = None) -> PipelinePlan:
    """The plan of ``pipeline``. ``sleep_seconds`` keeps each step of the test pipelines (test_help,
    test_fail) busy that long first; by default the setting ``RUNYARD_TEST_PIPELINE_SECONDS``."""
    python = python or sys.executable
    if sleep_seconds is None:
        sleep_seconds = _test_pipeline_seconds()
    if pipeline == "test_help":
        argv = [python, "-m", "jobs.pipelines.test_help", "--spec", "spec.json"]
        if sleep_seconds:
            argv += ["--sleep", str(sleep_seconds)]
        return PipelinePlan(pipeline, (Step("help", tuple(argv), reads=("spec.json",)),))
    if pipeline == "test_fail":
        module = [python, "-m", "jobs.pipelines.test_fail"]
        pause = ["--sleep", str(sleep_seconds)] if sleep_seconds else []
        return PipelinePlan(
            pipeline,
            (
                Step("prepare", (*module, "prepare", *pause), writes=("prepared.txt",)),
                Step("transfer", (*module, "transfer", *pause), reads=("prepared.txt",)),
            ),
        )
    if pipeline == "fastq_qc":
        module = [python, "-m", "jobs.pipelines.fastq_qc"]
        return PipelinePlan(
            pipeline,
            (
                Step(
                    "qc",
                    (*module, "qc", "--manifest", MANIFEST, "--out", f"{RESULTS}/qc"),
                    reads=(MANIFEST, "inputs/"),
                    writes=(f"{RESULTS}/qc/<sample>.json",),
                ),
                Step(
                    "summarise",
                    (*module, "summarise", "--manifest", MANIFEST, "--out", f"{RESULTS}/qc"),
                    reads=(f"{RESULTS}/qc/<sample>.json",),
                    writes=(f"{RESULTS}/qc/summary.tsv",),
                ),
            ),
        )
    raise UnknownPipeline(f"The local backend cannot run the pipeline {pipeline!r}.")


def _test_pipeline_seconds() -> float:
    try:
        from django.conf import settings

        return float(getattr(settings, "RUNYARD_TEST_PIPELINE_SECONDS", 0))
    except ImportError:  # used without Django (the backends' own tests)
        return 0.0


def needs_inputs(pipeline: str) -> bool:
    """Whether the pipeline reads the samples' FASTQ files (so staging must download them)."""
    return pipeline == "fastq_qc"
