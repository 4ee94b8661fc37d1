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


def plan_for(pipeline: str, *, python: str | None = None, sleep_seconds: float = 0) -> PipelinePlan:
    """The plan of ``pipeline``. ``sleep_seconds`` (test_help only) keeps its step busy that long."""
    python = python or sys.executable
    if pipeline == "test_help":
        argv = [python, "-m", "jobs.pipelines.test_help", "--spec", "spec.json"]
        if sleep_seconds:
            argv += ["--sleep", str(sleep_seconds)]
        return PipelinePlan(pipeline, (Step("help", tuple(argv), reads=("spec.json",)),))
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


def needs_inputs(pipeline: str) -> bool:
    """Whether the pipeline reads the samples' FASTQ files (so staging must download them)."""
    return pipeline == "fastq_qc"
